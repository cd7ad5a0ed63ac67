import * as path from "node:path";

/** The 1×1 PNG that the bucket serves in the cloud and the local server serves on this machine. */
export const PIXEL_FILE = path.join(__dirname, "pixel.png");

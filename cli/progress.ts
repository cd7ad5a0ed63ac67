import { SingleBar } from "cli-progress";

/** How replay reports how far it got: bytes of the archive read, and log entries among them. */
export interface ReplayProgress {
  start(totalBytes: number): void;
  update(bytesRead: number, entries: number): void;
  stop(): void;
}

/** 1536 → "1.5 KiB": archive sizes from bytes to gigabytes. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * A progress bar on a terminal, by bytes read (known up front from the listing, so the ETA
 * holds for the whole run), with the entry rate. `noTTYOutput` also draws it on a stream that is
 * not a terminal.
 */
export function terminalProgress(stream: NodeJS.WritableStream, options: { noTTYOutput?: boolean } = {}): ReplayProgress {
  const bar = new SingleBar({
    stream,
    noTTYOutput: options.noTTYOutput ?? false,
    format: "{bar} {percentage}% | {read} of {size} | {entries} entries, {rate} entries/s | ETA {eta_formatted}",
    hideCursor: true,
    etaBuffer: 50,
  });
  let started = 0;
  let total = 0;
  const payload = (bytesRead: number, entries: number) => ({
    read: formatBytes(bytesRead),
    size: formatBytes(total),
    entries,
    rate: Math.round(entries / Math.max((Date.now() - started) / 1000, 0.001)),
  });
  return {
    start(totalBytes) {
      started = Date.now();
      total = totalBytes;
      bar.start(totalBytes, 0, payload(0, 0));
    },
    update(bytesRead, entries) {
      bar.update(bytesRead, payload(bytesRead, entries));
    },
    stop() {
      bar.stop();
    },
  };
}

/** How rollup reports how far it got: days recomputed, and the rollup rows they hold. */
export interface DayProgress {
  start(totalDays: number): void;
  update(daysDone: number, rows: number): void;
  stop(): void;
}

/** A progress bar on a terminal, by days, with the rows written so far. */
export function dayProgress(stream: NodeJS.WritableStream, options: { noTTYOutput?: boolean } = {}): DayProgress {
  const bar = new SingleBar({
    stream,
    noTTYOutput: options.noTTYOutput ?? false,
    format: "{bar} {percentage}% | {value} of {total} days | {rows} rows | ETA {eta_formatted}",
    hideCursor: true,
  });
  return {
    start: (totalDays) => bar.start(totalDays, 0, { rows: 0 }),
    update: (daysDone, rows) => bar.update(daysDone, { rows }),
    stop: () => bar.stop(),
  };
}

// Run by jest before each test file (jest.config.js, setupFilesAfterEnv).
import { seedPropertiesFromEnvironment } from "./seed";

seedPropertiesFromEnvironment();

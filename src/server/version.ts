import { createRequire } from "node:module";

// src/server/ and dist/server/ are both two levels below the package root.
const packageJson = createRequire(import.meta.url)("../../package.json") as { name: string; version: string };

export const PACKAGE_NAME = packageJson.name;
export const PACKAGE_VERSION = packageJson.version;

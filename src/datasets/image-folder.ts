/**
 * The ImageFolder layout shared by `sav-mcp eval` and add_examples' `folder`: one subfolder per label, named after
 * it, holding that label's images (nested folders are read too). Only lists files; reading and checking the images
 * is the caller's.
 */
import type { Dirent } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";

/** File name endings read as images (the formats the decoder accepts). */
export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif", ".heic", ".heif", ".tif", ".tiff"] as const;

/** Label subfolders are walked this deep, without following symbolic links to folders. */
const MAX_FOLDER_DEPTH = 8;

/** Names with numbers in numeric order (img2 before img10), the same on every platform. */
export const naturalOrder = new Intl.Collator("en", { numeric: true }).compare;

export function isImageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((extension) => lower.endsWith(extension));
}

function isHidden(name: string): boolean {
  return name.startsWith(".");
}

export interface ImageFolderListing {
  /** Every label subfolder, in natural order, with its images' paths relative to the root ('/'-separated, natural order). */
  labels: { label: string; files: string[] }[];
  /** Images lying directly in the root, outside any label subfolder (for the error message when there are no labels). */
  looseImages: number;
}

export async function listImageFolder(root: string): Promise<ImageFolderListing> {
  const entries = await fs.readdir(root, { withFileTypes: true });
  const labelDirs = entries.filter((entry) => entry.isDirectory() && !isHidden(entry.name)).map((entry) => entry.name);
  const labels = await Promise.all(
    labelDirs.sort(naturalOrder).map(async (label) => {
      const files = await imageFilesUnder(path.join(root, label), MAX_FOLDER_DEPTH);
      return { label, files: files.map((file) => path.relative(root, file).split(path.sep).join("/")).sort(naturalOrder) };
    }),
  );
  return { labels, looseImages: entries.filter((entry) => entry.isFile() && isImageFile(entry.name)).length };
}

async function imageFilesUnder(dir: string, depth: number): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    // An unreadable subfolder contributes no images; the others still count.
    return [];
  }
  const files: string[] = [];
  for (const entry of entries) {
    if (isHidden(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && depth > 1) files.push(...(await imageFilesUnder(full, depth - 1)));
    // Linked files are listed; the image reader checks where a link really points.
    else if ((entry.isFile() || entry.isSymbolicLink()) && isImageFile(entry.name)) files.push(full);
  }
  return files;
}

/**
 * The files of the web page, held in memory (all of them together are a few tens of KB): the HTML,
 * its style sheet and the browser modules compiled from daemon/ui/browser (tsconfig.ui.json, run by
 * `npm run build` and cross-compile.sh, so bundles and the .deb carry them). Only these names are
 * served: nothing is read from disk by a request's path.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pageHtml } from "./pageHtml.js";
import { pageStyles } from "./pageStyles.js";

export interface PageAsset {
  contentType: string;
  body: Buffer;
}

export class PageAssets {
  /** By URL path: "/", "/ui/page.css", "/ui/<module>.js". */
  readonly byPath = new Map<string, PageAsset>();

  constructor(browserDirectory = fileURLToPath(new URL("./browser/", import.meta.url))) {
    this.byPath.set("/", { contentType: "text/html; charset=utf-8", body: Buffer.from(pageHtml) });
    this.byPath.set("/ui/page.css", { contentType: "text/css; charset=utf-8", body: Buffer.from(pageStyles) });
    for (const name of readdirSync(browserDirectory)) {
      if (!name.endsWith(".js")) continue;
      this.byPath.set(`/ui/${name}`, {
        contentType: "text/javascript; charset=utf-8",
        body: readFileSync(join(browserDirectory, name)),
      });
    }
    if (!this.byPath.has("/ui/main.js"))
      throw new Error(`the web page's scripts are missing from ${browserDirectory} (npm run build compiles them)`);
  }

  /** Bytes of the whole page: HTML, style sheet and scripts. */
  get totalBytes(): number {
    return [...this.byPath.values()].reduce((sum, asset) => sum + asset.body.length, 0);
  }
}

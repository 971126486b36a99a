import assert from "node:assert/strict";
import { renderAssets } from "../../src/ui/web/build.ts";

Deno.test("src/ui/web/_assets.ts is what build.ts makes of the page's current sources", async () => {
  const committed = await Deno.readTextFile(
    new URL("../../src/ui/web/_assets.ts", import.meta.url),
  );
  const fresh = await renderAssets();
  assert.ok(
    committed === fresh,
    "src/ui/web/_assets.ts is stale: run `deno run -A src/ui/web/build.ts` and commit it",
  );
});

Deno.test("the page's sources pass deno check (DOM library), fmt and lint with src/ui/web/check.json", async () => {
  // deno.json leaves them out of the repository's own check: the DOM library
  // would change shared types (WebAssembly.Memory's buffer) for every file.
  const web = new URL("../../src/ui/web/", import.meta.url).pathname;
  const files = ["app.ts", "frame_map.ts", "plot.ts", "tables.ts"].map((f) => web + f);
  const config = web + "check.json";
  for (const args of [["check"], ["fmt", "--check"], ["lint"]]) {
    const r = await new Deno.Command(Deno.execPath(), {
      args: [...args, "--config", config, ...files],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(
      r.success,
      `deno ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).slice(0, 2000)}`,
    );
  }
});

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

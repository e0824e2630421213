/**
 * The sign-in and key pages of a real node in real headless Chromium
 * (tests/helpers/chromium.ts): their scripts, and the module they share
 * (node/frontends/web/pages/page.js), load under the pages' policy and
 * drive the node's JSON API — a guest told so, a key registered with a real
 * `ssh-keygen` signature, a refusal shown as an error.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Chromium, hasChromium } from "./helpers/chromium.ts";
import { startHttpNode } from "./helpers/http_node.ts";
import { KeygenDir } from "./helpers/ssh_keygen.ts";

const ignore = !hasChromium();
if (ignore) console.warn("web_pages_test: chromium is missing (apt-get install chromium)");

Deno.test({
  name: "the sign-in and key pages run their scripts and show the node's answers",
  ignore,
}, async () => {
  const { node, url } = await startHttpNode({ id: "pages" });
  const browser = await Chromium.launch();
  const keys = await KeygenDir.create();
  try {
    const page = await browser.newPage();
    const status = `document.querySelector("#status")`;

    await page.goto(`${url}/signin`);
    await page.waitUntil(
      `${status}.textContent === "Not signed in: this browser joins as a guest."`,
      "the guest notice",
    );

    const dave = await keys.key("ed25519");
    await page.goto(`${url}/keys`);
    await page.type("#nick", "dave");
    await page.type("#key", dave.publicLine);
    await page.evaluate(`document.querySelector("#ask").requestSubmit()`);
    await page.waitUntil(`!document.querySelector("#prove").hidden`, "the challenge");
    const command = await page.evaluate<string>(`document.querySelector("#command").textContent`);
    const line = /^echo '([^']+)' \| ssh-keygen -Y sign/.exec(command)?.[1];
    assert.ok(line, command);
    const signature = await keys.sign(dave, `${line}\n`);
    await page.evaluate(
      `document.querySelector("#signature").value = ${JSON.stringify(signature)}`,
    );
    await page.evaluate(`document.querySelector("#prove").requestSubmit()`);
    await page.waitUntil(`${status}.textContent.startsWith("dave is registered")`, "registered");
    assert.equal(await page.evaluate(`${status}.className`), "");

    // A refusal is shown as an error.
    await page.evaluate(`document.querySelector("#key").value = ""`);
    await page.type("#key", "ssh-ed25519 not-a-key");
    await page.evaluate(`document.querySelector("#ask").requestSubmit()`);
    await page.waitUntil(`${status}.className === "error"`, "the refusal");
    // Nothing was refused by the page policy, and nothing threw; the console's
    // network lines are the node's 401 (a guest) and 400 (the refusal), as meant.
    assert.deepEqual(page.problems.filter((problem) => !problem.startsWith("network:")), []);
  } finally {
    await browser.close();
    await keys.remove();
    await node.stop();
  }
});

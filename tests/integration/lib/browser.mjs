// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) for the browser
// tests. A missing Chromium or playwright-core fails the test (scripts/deps.sh test installs both).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { track } from "./harness.mjs";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/**
 * Launches Chromium with CHROMIUM_ARGS plus `args`; its profile lives in a temporary directory
 * that closeAll() removes, with the browser.
 */
export async function launchChromium({ args = [] } = {}) {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/deps.sh test installs Debian's chromium`);
  const { chromium } = await import("playwright-core");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sio-chromium-"));
  track(tmp, () => fs.rmSync(tmp, { recursive: true, force: true }));
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = tmp; // Playwright makes the profile in os.tmpdir()
  try {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, ...args],
      env: { ...process.env, TMPDIR: tmp },
      timeout: 60000,
    });
    track(browser, () => browser.close());
    return browser;
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  }
}

// ---- the built-in chat page (web/chat) ---------------------------------------------------

/** Resolves once our own line `message` is shown and marked sent (the server acked it). */
export async function waitSent(page, message, timeout = 30000) {
  await page.waitForFunction(
    (m) =>
      [...document.querySelectorAll("#messages .msg.mine")].some(
        (li) => li.querySelector(".text").textContent === m && li.dataset.state === "sent",
      ),
    message,
    { timeout },
  );
}

/** Resolves once someone else's line `message` is shown. */
export async function waitMessage(page, message, timeout = 30000) {
  await page.waitForFunction(
    (m) => [...document.querySelectorAll("#messages .msg.theirs .text")].some((el) => el.textContent === m),
    message,
    { timeout },
  );
}

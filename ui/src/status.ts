// The one error/status region (#status, role=alert). Never shows raw exceptions: every error
// goes through toAppError and errorText.
import { errorText } from "./format";
import { toAppError } from "./ipc/client";
import type { AppError } from "./ipc/bindings";
import { h } from "./dom";

export function createStatus(): HTMLDivElement {
  const el = h("div", { id: "status", role: "alert", class: "status" });
  el.hidden = true;
  const text = h("span", { class: "status-text" });
  const close = h("button", { type: "button", class: "link status-close", "aria-label": "Dismiss message" }, "×");
  close.addEventListener("click", clearStatus);
  el.append(text, close);
  return el;
}

function region(): HTMLElement | null {
  return document.getElementById("status");
}

/** Shows an error (anything thrown) in #status, with its code in data-code. */
export function reportError(e: unknown): AppError {
  const error = toAppError(e);
  const el = region();
  if (el) {
    const text = el.querySelector(".status-text") ?? el;
    text.textContent = errorText(error);
    el.dataset["code"] = error.code;
    el.dataset["kind"] = "error";
    el.hidden = false;
  }
  return error;
}

/** Shows a calm notice (not an error) in #status. */
export function reportInfo(message: string): void {
  const el = region();
  if (!el) return;
  const text = el.querySelector(".status-text") ?? el;
  text.textContent = message;
  delete el.dataset["code"];
  el.dataset["kind"] = "info";
  el.hidden = false;
}

export function clearStatus(): void {
  const el = region();
  if (!el) return;
  const text = el.querySelector(".status-text") ?? el;
  text.textContent = "";
  delete el.dataset["code"];
  delete el.dataset["kind"];
  el.hidden = true;
}

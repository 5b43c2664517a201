// The Diagnostics tab: `passbridge doctor`'s machine checks, the same checks in the same words,
// for an administrator at the machine.
import { errorText } from "../format";
import { runDiagnostics, toAppError } from "../ipc/client";
import type { CheckView, Status } from "../ipc/bindings";
import { h, replace } from "../dom";

export interface DiagnosticsView {
  /** Runs the checks and shows them. */
  run(): Promise<void>;
}

const STATUS_WORD: Record<Status, string> = { pass: "Pass", warn: "Look at this", fail: "Fail" };

/** "2 passed, 1 to look at, 0 failed", as the command line counts them. */
export function summaryText(checks: CheckView[]): string {
  const count = (s: Status): number => checks.filter((c) => c.status === s).length;
  return `${count("pass")} passed, ${count("warn")} to look at, ${count("fail")} failed`;
}

export function mountDiagnostics(panel: HTMLElement): DiagnosticsView {
  const runBtn = h("button", { id: "diagnostics-run", type: "button", class: "primary" }, "Run the checks");
  const summary = h("p", { id: "diagnostics-summary", role: "status" });
  const list = h("ul", { id: "diagnostics", class: "cards" });
  summary.hidden = true;
  panel.append(
    h("h2", {}, "Diagnostics"),
    h(
      "p",
      { class: "muted" },
      "What passkeys and the security key need on this computer, checked in order. The command line's `passbridge doctor` runs the same checks.",
    ),
    h("p", {}, runBtn),
    summary,
    list,
  );

  function item(c: CheckView): HTMLLIElement {
    return h(
      "li",
      { class: "card check", "data-area": c.area, "data-status": c.status },
      h("span", { class: "badge", "data-state": c.status }, STATUS_WORD[c.status]),
      " ",
      h("strong", { class: "area" }, c.areaLabel),
      h("p", { class: "message" }, c.message),
    );
  }

  async function run(): Promise<void> {
    runBtn.disabled = true;
    summary.hidden = false;
    summary.dataset["state"] = "running";
    summary.textContent = "Checking…";
    try {
      const checks = await runDiagnostics();
      replace(list, ...checks.map(item));
      summary.dataset["state"] = checks.some((c) => c.status === "fail") ? "error" : "ok";
      summary.textContent = summaryText(checks);
    } catch (e) {
      summary.dataset["state"] = "error";
      summary.textContent = errorText(toAppError(e));
    } finally {
      runBtn.disabled = false;
    }
  }

  runBtn.addEventListener("click", () => void run());
  return { run };
}

// The Diagnostics tab: `passbridge doctor`'s checks, the same checks in the same words, for an
// administrator at the machine: first this machine's (policy, keychain, profiles, security
// key), then the network's (each tunnel service a phone may name, the relay, the clock), each
// step shown as it starts and the whole run cancellable.
import { errorText } from "../format";
import { cancelNetworkChecks, runDiagnostics, runNetworkChecks, toAppError } from "../ipc/client";
import type { CheckView, NetStepView, Status } from "../ipc/bindings";
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

/** The live line while the network checks run: "Checking cable.ua5v.com: TLS…". */
export function stepText(step: NetStepView): string {
  return `Checking ${step.host}: ${step.label}…`;
}

export function mountDiagnostics(panel: HTMLElement): DiagnosticsView {
  const runBtn = h("button", { id: "diagnostics-run", type: "button", class: "primary" }, "Run the checks");
  const cancelBtn = h("button", { id: "diagnostics-cancel", type: "button" }, "Stop");
  const onlyRelay = h("input", { id: "diagnostics-only-relay", type: "checkbox" });
  const summary = h("p", { id: "diagnostics-summary", role: "status" });
  const live = h("p", { id: "diagnostics-step", class: "muted", "aria-live": "polite" });
  const list = h("ul", { id: "diagnostics", class: "cards" });
  summary.hidden = true;
  cancelBtn.hidden = true;
  live.hidden = true;
  panel.append(
    h("h2", {}, "Diagnostics"),
    h(
      "p",
      { class: "muted" },
      "What passkeys, the security key and phone sign-ins need on this computer and its network, checked in order. The command line's `passbridge doctor` runs the same checks.",
    ),
    h("p", {}, runBtn, " ", cancelBtn),
    h(
      "p",
      {},
      h("label", {}, onlyRelay, " On the network, check only the relay set under Advanced (not the public tunnel services)"),
    ),
    summary,
    live,
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

  function show(checks: CheckView[], note = ""): void {
    summary.dataset["state"] = checks.some((c) => c.status === "fail") ? "error" : "ok";
    summary.textContent = summaryText(checks) + note;
  }

  async function run(): Promise<void> {
    runBtn.disabled = true;
    summary.hidden = false;
    summary.dataset["state"] = "running";
    summary.textContent = "Checking this computer…";
    replace(list);
    try {
      const checks = await runDiagnostics();
      replace(list, ...checks.map(item));
      summary.textContent = "Checking the network…";
      cancelBtn.hidden = false;
      cancelBtn.disabled = false;
      live.hidden = false;
      live.textContent = "";
      const network = await runNetworkChecks(onlyRelay.checked, (step) => {
        live.textContent = stepText(step);
      });
      if (network === null) {
        show(checks, ". The network checks were stopped.");
      } else {
        list.append(...network.map(item));
        show([...checks, ...network]);
      }
    } catch (e) {
      summary.dataset["state"] = "error";
      summary.textContent = errorText(toAppError(e));
    } finally {
      runBtn.disabled = false;
      cancelBtn.hidden = true;
      live.hidden = true;
    }
  }

  runBtn.addEventListener("click", () => void run());
  cancelBtn.addEventListener("click", () => {
    cancelBtn.disabled = true;
    void cancelNetworkChecks();
  });
  return { run };
}

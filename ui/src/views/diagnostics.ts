// The Diagnostics tab: `passbridge doctor`'s checks, the same checks in the same words, for an
// administrator at the machine: first this machine's (policy, keychain, profiles, security
// key), then the network's (each tunnel service a phone may name, the relay, the clock), each
// step shown as it starts and the whole run cancellable; the cross-device test (a phone, or the
// virtual phone, through a registration and a sign-in, each phase shown as it is reached); and
// a report of what the page found, to share.
import { errorText } from "../format";
import {
  cancelNetworkChecks,
  exportReport,
  openReport,
  runCrossDeviceTest,
  runDiagnostics,
  runNetworkChecks,
  toAppError,
} from "../ipc/client";
import type { CheckView, NetStepView, Status, TestPhaseView, TestResultView } from "../ipc/bindings";
import { h, replace } from "../dom";
import { svgDataUrl } from "./phone";

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

/** The live line while the test runs: "Registration: tunnel connected (12 ms)". */
export function phaseText(p: TestPhaseView): string {
  const ceremony = p.ceremonyLabel.charAt(0).toUpperCase() + p.ceremonyLabel.slice(1);
  return `${ceremony}: ${p.label} (${Math.round(p.atMs)} ms)`;
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

  // The cross-device test.
  const testBtn = h("button", { id: "diagnostics-test", type: "button" }, "Test with a phone");
  const testStop = h("button", { id: "diagnostics-test-cancel", type: "button" }, "Stop");
  const virtualPhone = h("input", { id: "diagnostics-virtual-phone", type: "checkbox" });
  const testLive = h("p", { id: "diagnostics-test-step", class: "muted", "aria-live": "polite" });
  const testQr = h("div", { id: "diagnostics-test-qr", class: "qr" });
  const testResult = h("div", { id: "diagnostics-test-result", role: "status" });
  testStop.hidden = true;
  testLive.hidden = true;
  testQr.hidden = true;
  testResult.hidden = true;
  // The report.
  const exportBtn = h("button", { id: "diagnostics-export", type: "button" }, "Export report");
  const exported = h("p", { id: "diagnostics-exported", role: "status" });
  exported.hidden = true;
  panel.append(
    h("h3", {}, "Cross-device test"),
    h(
      "p",
      { class: "muted" },
      "A registration and a sign-in at a test site (cross-device-test.invalid) with your phone: scan each QR code. Every phase is timed, so a failure names the step where it stopped. The phone keeps a test passkey, replaced by the next test.",
    ),
    h("p", {}, testBtn, " ", testStop),
    h("p", {}, h("label", {}, virtualPhone, " Use the virtual phone (no phone needed: tests this computer's side)")),
    testLive,
    testQr,
    testResult,
    h("h3", {}, "Report"),
    h("p", { class: "muted" }, "The checks and the test above in one page to send to whoever helps you: no keys, QR codes or passkey IDs."),
    h("p", {}, exportBtn),
    exported,
  );

  function showResult(r: TestResultView): void {
    testResult.hidden = false;
    testResult.dataset["state"] = r.passed ? "ok" : "error";
    const facts = h("dl", { class: "facts" });
    for (const [name, value] of r.facts) facts.append(h("dt", {}, name), h("dd", {}, value));
    replace(
      testResult,
      h("p", { class: "verdict" }, r.summary),
      r.fix === null ? null : h("p", { class: "fix" }, r.fix),
      facts,
    );
  }

  async function runTest(): Promise<void> {
    testBtn.disabled = true;
    testStop.hidden = false;
    testStop.disabled = false;
    testLive.hidden = false;
    testLive.textContent = "Starting…";
    testResult.hidden = true;
    try {
      const result = await runCrossDeviceTest(virtualPhone.checked, (p) => {
        testLive.textContent = phaseText(p);
        if (p.qrSvg !== null) {
          testQr.hidden = false;
          replace(testQr, h("img", { src: svgDataUrl(p.qrSvg), alt: "QR code: scan it with your phone", class: "qr-image" }));
        } else if (p.phase !== "qr-shown") {
          testQr.hidden = true;
        }
      });
      showResult(result);
    } catch (e) {
      testResult.hidden = false;
      testResult.dataset["state"] = "error";
      testResult.textContent = errorText(toAppError(e));
    } finally {
      testBtn.disabled = false;
      testStop.hidden = true;
      testLive.hidden = true;
      testQr.hidden = true;
    }
  }

  async function runExport(): Promise<void> {
    exportBtn.disabled = true;
    exported.hidden = false;
    try {
      const path = await exportReport();
      exported.dataset["state"] = "ok";
      const open = h("button", { id: "diagnostics-open-report", type: "button" }, "Open it");
      open.addEventListener("click", () => {
        openReport(path).catch((e: unknown) => {
          exported.dataset["state"] = "error";
          exported.textContent = errorText(toAppError(e));
        });
      });
      replace(exported, "Report saved: ", h("code", { id: "diagnostics-report-path", class: "wrap" }, path), " ", open);
    } catch (e) {
      exported.dataset["state"] = "error";
      exported.textContent = errorText(toAppError(e));
    } finally {
      exportBtn.disabled = false;
    }
  }

  testBtn.addEventListener("click", () => void runTest());
  testStop.addEventListener("click", () => {
    testStop.disabled = true;
    void cancelNetworkChecks();
  });
  exportBtn.addEventListener("click", () => void runExport());

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

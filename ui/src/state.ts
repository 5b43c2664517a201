// The phone ceremony's step list as a pure model: given the events so far, which steps are
// pending, current, done or failed, and how long each took to reach.
import type { PhoneEvent, PhoneStep } from "./ipc/bindings";
import { stepLabel } from "./format";

export type StepState = "pending" | "current" | "done" | "failed";

export interface StepRow {
  step: PhoneStep;
  label: string;
  state: StepState;
  /** Milliseconds since the start when the step was reached; null until then. */
  elapsedMs: number | null;
}

export type PhoneFinish = "done" | "failed" | "cancelled";

export interface PhoneModel {
  /** The flow to cancel, once the first event named it. */
  flow: number | null;
  /** The linked phone contacted, or null for a QR code. */
  phone: string | null;
  rows: StepRow[];
  qrUrl: string | null;
  qrSvg: string | null;
  finished: PhoneFinish | null;
  message: string | null;
}

const MIDDLE: readonly PhoneStep[] = ["phone-nearby", "relay-connected", "secure-channel", "waiting-for-approval", "done"];

function row(step: PhoneStep, phone: string | null): StepRow {
  return { step, label: stepLabel(step, phone), state: "pending", elapsedMs: null };
}

/** The model before any event: every step pending. */
export function initialModel(phone: string | null): PhoneModel {
  const first: PhoneStep = phone === null ? "qr-shown" : "contacting-phone";
  return {
    flow: null,
    phone,
    rows: [first, ...MIDDLE].map((s) => row(s, phone)),
    qrUrl: null,
    qrSvg: null,
    finished: null,
    message: null,
  };
}

/** The model after one more event. Never mutates `model`. */
export function applyEvent(model: PhoneModel, event: PhoneEvent): PhoneModel {
  if (model.finished !== null) return model;
  const next: PhoneModel = { ...model, flow: event.flow, rows: model.rows.map((r) => ({ ...r })) };
  const rows = next.rows;

  if (event.step === "failed" || event.step === "cancelled") {
    // The step we were in is where it stopped.
    let at = rows.findIndex((r) => r.state === "current");
    if (at < 0) at = rows.findIndex((r) => r.state === "pending");
    const stopped = rows[at];
    if (stopped) {
      stopped.state = "failed";
      stopped.elapsedMs ??= event.elapsedMs;
    }
    next.finished = event.step;
    next.message = event.message;
    next.qrSvg = null;
    return next;
  }

  // The first row follows what the phone side does (a linked phone may fall back to a QR code).
  const first = rows[0];
  if (first && (event.step === "qr-shown" || event.step === "contacting-phone") && first.step !== event.step) {
    first.step = event.step;
    first.label = stepLabel(event.step, model.phone);
  }
  if (event.step === "qr-shown") {
    next.qrUrl = event.qrUrl;
    next.qrSvg = event.qrSvg;
  } else if (event.step !== "contacting-phone") {
    // The phone has scanned the code (or was reached): the QR code is no longer needed.
    next.qrSvg = null;
  }

  const at = rows.findIndex((r) => r.step === event.step);
  if (at < 0) return next;
  rows.forEach((r, i) => {
    if (i < at && (r.state === "pending" || r.state === "current")) r.state = "done";
  });
  const reached = rows[at];
  if (reached) {
    reached.state = event.step === "done" ? "done" : "current";
    reached.elapsedMs = event.elapsedMs;
  }
  if (event.step === "done") {
    next.finished = "done";
    next.message = event.message;
  }
  return next;
}

/** The model after all of `events`, in order. */
export function modelFromEvents(phone: string | null, events: readonly PhoneEvent[]): PhoneModel {
  return events.reduce(applyEvent, initialModel(phone));
}

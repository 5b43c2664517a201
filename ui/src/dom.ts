// Tiny DOM helpers: elements are built with createElement/textContent only (strict CSP, no
// innerHTML with data).

export type Child = Node | string | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined>;

/** Creates `<tag>` with attributes (true: present, false/null/undefined: absent) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** Empties `el` and fills it with `children`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** A labelled control: `<div class="field"><label for=id>…</label>control<p class="hint">…</p></div>`. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLDivElement {
  const wrap = h("div", { class: "field" });
  const lab = h("label", { for: control.id }, label);
  wrap.append(lab, control);
  if (hint !== undefined) {
    const hintId = `${control.id}-hint`;
    wrap.append(h("p", { class: "hint", id: hintId }, hint));
    control.setAttribute("aria-describedby", hintId);
  }
  return wrap;
}

/** A checkbox with its label after it. */
export function checkField(label: string, control: HTMLInputElement): HTMLDivElement {
  return h("div", { class: "field check" }, control, h("label", { for: control.id }, label));
}

/** A button of type=button (forms never submit anywhere: CSP form-action 'none'). */
export function button(text: string, attrs: Attrs = {}): HTMLButtonElement {
  return h("button", { type: "button", ...attrs }, text);
}

/** Shows or hides an element (the `hidden` attribute; CSS keeps it hidden). */
export function show(el: HTMLElement, visible: boolean): void {
  el.hidden = !visible;
}

/** Opens a `<dialog>` as a modal and focuses its first field (or `focus`). */
export function openDialog(dialog: HTMLDialogElement, focus?: HTMLElement | null): void {
  if (!dialog.open) {
    if (typeof dialog.showModal === "function") dialog.showModal();
    else dialog.setAttribute("open", "");
  }
  const target =
    focus ?? dialog.querySelector<HTMLElement>("input:not([type=hidden]):not([disabled]), select, textarea, button");
  target?.focus();
}

export function closeDialog(dialog: HTMLDialogElement): void {
  if (typeof dialog.close === "function" && dialog.open) dialog.close();
  else dialog.removeAttribute("open");
}

/** Builds a modal dialog with a heading; Esc (the dialog's cancel event) runs `onCancel`. */
export function dialog(id: string, title: string, onCancel?: () => void): {
  dialog: HTMLDialogElement;
  body: HTMLFormElement;
  heading: HTMLHeadingElement;
} {
  const headingId = `${id}-title`;
  const heading = h("h2", { id: headingId }, title);
  const body = h("form", { class: "dialog-body", novalidate: true });
  body.addEventListener("submit", (e) => e.preventDefault());
  const d = h("dialog", { id, "aria-labelledby": headingId }, heading, body);
  d.addEventListener("cancel", (e) => {
    e.preventDefault();
    if (onCancel) onCancel();
    else closeDialog(d);
  });
  return { dialog: d, body, heading };
}

/** Runs `handler` on submit of `form` (Enter in a field), never letting the form navigate. */
export function onSubmit(form: HTMLFormElement, handler: () => void): void {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    handler();
  });
}

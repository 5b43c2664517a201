// An accessible tab list: role=tablist, aria-selected, roving tabindex, arrow keys/Home/End.
import { h } from "../dom";

export interface TabSpec {
  /** The tab button's id, e.g. "tab-passkeys". */
  id: string;
  label: string;
  panel: HTMLElement;
}

export interface Tabs {
  list: HTMLElement;
  select(id: string, focus?: boolean): void;
}

export function mountTabs(specs: TabSpec[], onSelect?: (id: string) => void): Tabs {
  const list = h("div", { role: "tablist", "aria-label": "Sections", class: "tabs" });
  const buttons = specs.map((s) => {
    const b = h("button", { type: "button", role: "tab", id: s.id, "aria-controls": s.panel.id }, s.label);
    s.panel.setAttribute("role", "tabpanel");
    s.panel.setAttribute("aria-labelledby", s.id);
    s.panel.tabIndex = 0;
    b.addEventListener("click", () => select(s.id));
    list.append(b);
    return b;
  });

  function select(id: string, focus = false): void {
    specs.forEach((s, i) => {
      const on = s.id === id;
      const b = buttons[i];
      if (!b) return;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      s.panel.hidden = !on;
      if (on && focus) b.focus();
    });
    onSelect?.(id);
  }

  list.addEventListener("keydown", (e) => {
    const at = buttons.findIndex((b) => b === document.activeElement);
    if (at < 0) return;
    let next: number;
    switch (e.key) {
      case "ArrowRight":
      case "ArrowDown":
        next = (at + 1) % buttons.length;
        break;
      case "ArrowLeft":
      case "ArrowUp":
        next = (at - 1 + buttons.length) % buttons.length;
        break;
      case "Home":
        next = 0;
        break;
      case "End":
        next = buttons.length - 1;
        break;
      default:
        return;
    }
    e.preventDefault();
    const spec = specs[next];
    if (spec) select(spec.id, true);
  });

  const first = specs[0];
  if (first) select(first.id);
  return { list, select };
}

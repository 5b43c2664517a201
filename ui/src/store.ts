// The shared state the views react to: the profile list (and so the active profile).
import type { ProfileView } from "./ipc/bindings";

export type Listener = (store: Store) => void;

export class Store {
  profiles: ProfileView[] = [];
  /** Set once the first profile list arrived. */
  loaded = false;
  private listeners: Listener[] = [];
  private activeKey = "";
  private activeListeners: Listener[] = [];

  /** The profile requests are answered from, if any. */
  active(): ProfileView | null {
    return this.profiles.find((p) => p.active) ?? null;
  }

  /** Runs on every profile list. */
  subscribe(fn: Listener): void {
    this.listeners.push(fn);
  }

  /** Runs when the active profile, its lock state or its passkey count changes (the passkey list must reload). */
  onActiveChange(fn: Listener): void {
    this.activeListeners.push(fn);
  }

  setProfiles(profiles: ProfileView[]): void {
    this.profiles = profiles;
    this.loaded = true;
    const a = this.active();
    // The passkey count is in the key too: a site may add a passkey while the window idles.
    const key = a ? `${a.name}\u0000${a.state}\u0000${a.passkeyCount ?? ""}` : "";
    const changed = key !== this.activeKey;
    this.activeKey = key;
    for (const fn of this.listeners) fn(this);
    if (changed) for (const fn of this.activeListeners) fn(this);
  }
}

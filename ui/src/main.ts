import { describeApp, describeError } from "./about";
import { appInfo } from "./ipc/client";

export async function showAbout(target: HTMLElement): Promise<void> {
  try {
    const info = await appInfo();
    target.textContent = describeApp(info);
    target.dataset["state"] = "ready";
  } catch (error) {
    target.textContent = describeError(error);
    target.dataset["state"] = "error";
  }
}

const about = document.getElementById("about");
if (about) {
  void showAbout(about);
}

import { render } from "preact";
import { App } from "./app";
import "./styles.css";
// After the window styles, so the screen's rules refine them.
import "./requests/requests.css";
import "./admin/admin.css";

// Never let the webview's own context menu offer "Inspect" or "Reload" on a secret.
window.addEventListener("contextmenu", (e) => {
  const t = e.target as HTMLElement | null;
  if (!t?.closest("input, textarea")) e.preventDefault();
});

const root = document.getElementById("app")!;
// Drop the static shell from index.html and render the live UI in the same task (no paint in between).
root.textContent = "";
render(<App />, root);

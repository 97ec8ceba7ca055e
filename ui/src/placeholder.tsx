// Honest placeholders for the screens that come next.

import type { ComponentChildren } from "preact";

export function Placeholder(props: { title: string; icon: ComponentChildren; lead: string; items: string[] }) {
  return (
    <div class="screen">
      <header class="screen-head">
        <div class="screen-title">
          <h1>{props.title}</h1>
          <span class="badge badge-muted">Coming</span>
        </div>
      </header>
      <div class="empty">
        <div class="empty-mark">{props.icon}</div>
        <h2>{props.title} is not built yet</h2>
        <p>{props.lead}</p>
        <ul class="coming-list">
          {props.items.map((i) => (
            <li>{i}</li>
          ))}
        </ul>
        <p class="muted small">The Vault works today; secrets you keep there will be usable here.</p>
      </div>
    </div>
  );
}

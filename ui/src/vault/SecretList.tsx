// The searchable list: a listbox driven by the arrow keys.

import { useEffect, useRef } from "preact/hooks";
import type { SecretSummary } from "../ipc/bindings";
import { envTone, expiryBadge, relativePast } from "../lib/format";
import { moveSelection } from "../lib/keys";

export function SecretList(props: {
  secrets: SecretSummary[];
  selectedId: string | null;
  now: number;
  onSelect: (id: string) => void;
  onOpen: (s: SecretSummary) => void;
  onDelete: (s: SecretSummary) => void;
  listRef: { current: HTMLUListElement | null };
}) {
  const index = props.secrets.findIndex((s) => s.id === props.selectedId);
  const rowRefs = useRef(new Map<string, HTMLLIElement>());

  useEffect(() => {
    if (props.selectedId) rowRefs.current.get(props.selectedId)?.scrollIntoView({ block: "nearest" });
  }, [props.selectedId]);

  function onKeyDown(e: KeyboardEvent) {
    const next = moveSelection(index, e.key, props.secrets.length);
    if (next !== null) {
      e.preventDefault();
      const s = props.secrets[next];
      if (s) props.onSelect(s.id);
      return;
    }
    const current = props.secrets[index];
    if (!current) return;
    if (e.key === "Enter") {
      e.preventDefault();
      props.onOpen(current);
    } else if (e.key === "Delete") {
      e.preventDefault();
      props.onDelete(current);
    }
  }

  return (
    <ul
      class="secret-list"
      role="listbox"
      aria-label="Secrets"
      tabIndex={0}
      ref={(el) => {
        props.listRef.current = el;
      }}
      aria-activedescendant={props.selectedId ? `row-${props.selectedId}` : undefined}
      onKeyDown={onKeyDown}
      data-testid="secret-list"
    >
      {props.secrets.map((s) => {
        const badge = expiryBadge(s, props.now);
        const selected = s.id === props.selectedId;
        return (
          <li
            id={`row-${s.id}`}
            key={s.id}
            ref={(el) => {
              if (el) rowRefs.current.set(s.id, el);
              else rowRefs.current.delete(s.id);
            }}
            role="option"
            aria-selected={selected}
            class={`secret-row${selected ? " selected" : ""}${s.enabled ? "" : " is-disabled"}`}
            data-testid="secret-row"
            data-name={s.name}
            onMouseDown={(e) => {
              // Keep keyboard focus on the list while the mouse selects.
              e.preventDefault();
              props.listRef.current?.focus();
              props.onSelect(s.id);
            }}
            onDblClick={() => props.onOpen(s)}
          >
            <div class="row-main">
              <span class={`row-dot${s.enabled ? " on" : ""}`} aria-hidden="true" />
              <span class="row-name mono">{s.name}</span>
              <span class="row-badges">
                {!s.enabled && <span class="badge badge-muted">Disabled</span>}
                {badge && (
                  <span class={`badge badge-${badge.tone}`} title={badge.title}>
                    {badge.label}
                  </span>
                )}
              </span>
            </div>
            <div class="row-meta">
              {s.environment && <span class={`chip chip-sm chip-env env-${envTone(s.environment)}`}>{s.environment}</span>}
              {s.tags.slice(0, 3).map((t) => (
                <span class="chip chip-sm">{t}</span>
              ))}
              {s.tags.length > 3 && <span class="muted small">+{s.tags.length - 3}</span>}
              <span class="row-used muted small">
                {s.lastUsedAt === null ? "never used" : `used ${relativePast(s.lastUsedAt, props.now)}`}
              </span>
            </div>
          </li>
        );
      })}
    </ul>
  );
}

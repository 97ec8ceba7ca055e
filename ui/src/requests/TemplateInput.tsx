// A text input that knows the template language: typing `${` offers secret.NAME (names from the
// vault's metadata, never values), env.NAME (the active environment's variables) and the functions.

import { createContext } from "preact";
import { useContext, useRef, useState } from "preact/hooks";
import { completionsAt, type Completion } from "./model";

export const TemplateHints = createContext<{ secrets: string[]; variables: string[] }>({ secrets: [], variables: [] });

export function TemplateInput(props: {
  value: string;
  onValue: (v: string) => void;
  onKeyDown?: (e: KeyboardEvent) => void;
  inputRef?: { current: HTMLInputElement | null };
  class?: string;
  placeholder?: string;
  ariaLabel: string;
  ariaInvalid?: boolean;
  ariaDescribedBy?: string | undefined;
  autoFocus?: boolean;
  testId?: string;
}) {
  const hints = useContext(TemplateHints);
  const own = useRef<HTMLInputElement | null>(null);
  const [menu, setMenu] = useState<{ items: Completion[]; from: number; active: number; top: number; left: number } | null>(null);

  const refresh = (el: HTMLInputElement) => {
    const caret = el.selectionStart ?? el.value.length;
    const found = completionsAt(el.value, caret, hints);
    // Fixed to the viewport so that no scrolling pane clips the menu.
    const r = el.getBoundingClientRect();
    setMenu(found && found.items.length ? { items: found.items.slice(0, 8), from: found.from, active: 0, top: r.bottom + 4, left: r.left } : null);
  };

  const accept = (c: Completion) => {
    const el = own.current;
    if (!el || !menu) return;
    const caret = el.selectionStart ?? el.value.length;
    const after = el.value.slice(caret);
    const close = c.closes && !after.startsWith("}") ? "}" : "";
    const next = el.value.slice(0, menu.from) + c.insert + close + after;
    const at = menu.from + c.insert.length + close.length - (c.caretBack ?? 0);
    props.onValue(next);
    // Keep typing where the completion ended (inside the parentheses of a function).
    requestAnimationFrame(() => {
      el.setSelectionRange(at, at);
      if (c.closes) setMenu(null);
      else refresh(el);
    });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (menu) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = menu.items.length;
        setMenu({ ...menu, active: (menu.active + (e.key === "ArrowDown" ? 1 : n - 1)) % n });
        return;
      }
      if ((e.key === "Enter" || e.key === "Tab") && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        const c = menu.items[menu.active];
        if (c) accept(c);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        setMenu(null);
        return;
      }
    }
    props.onKeyDown?.(e);
  };

  return (
    <span class="tpl">
      <input
        ref={(el) => {
          own.current = el;
          if (props.inputRef) props.inputRef.current = el;
        }}
        class={props.class}
        value={props.value}
        placeholder={props.placeholder}
        aria-label={props.ariaLabel}
        aria-invalid={props.ariaInvalid ? true : undefined}
        aria-describedby={props.ariaDescribedBy}
        aria-autocomplete="list"
        aria-expanded={menu ? true : false}
        spellcheck={false}
        autocomplete="off"
        autoFocus={props.autoFocus}
        data-testid={props.testId}
        onInput={(e) => {
          const el = e.currentTarget as HTMLInputElement;
          props.onValue(el.value);
          refresh(el);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setMenu(null)}
      />
      {menu && (
        <ul class="tpl-menu" role="listbox" aria-label="Template completions" data-testid="template-menu" style={{ top: `${menu.top}px`, left: `${menu.left}px` }}>
          {menu.items.map((c, i) => (
            <li
              role="option"
              aria-selected={i === menu.active}
              class={i === menu.active ? "active" : ""}
              onMouseDown={(e) => {
                e.preventDefault();
                accept(c);
              }}
            >
              <span class="tpl-label mono">{c.label}</span>
              <span class="tpl-kind">{c.kind}</span>
            </li>
          ))}
        </ul>
      )}
    </span>
  );
}

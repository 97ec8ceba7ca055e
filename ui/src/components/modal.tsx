// A modal dialog on the native <dialog> element: the rest of the window is inert while it is
// open, Esc closes it, and focus returns to where it was.

import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef } from "preact/hooks";
import { XIcon } from "./icons";

export function Modal(props: {
  title: string;
  subtitle?: string;
  onClose: () => void;
  children: ComponentChildren;
  size?: "sm" | "md" | "lg";
  tone?: "danger";
  testId?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const d = ref.current;
    const before = document.activeElement as HTMLElement | null;
    if (d && !d.open) d.showModal();
    return () => {
      d?.close();
      before?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class={`modal modal-${props.size ?? "md"}${props.tone ? ` modal-${props.tone}` : ""}`}
      aria-labelledby={`${id}-t`}
      data-testid={props.testId}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <header class="modal-head">
        <div>
          <h2 id={`${id}-t`}>{props.title}</h2>
          {props.subtitle && <p class="modal-sub">{props.subtitle}</p>}
        </div>
        <button type="button" class="icon-btn" aria-label="Close" title="Close (Esc)" onClick={props.onClose}>
          <XIcon />
        </button>
      </header>
      {props.children}
    </dialog>
  );
}

/** Ctrl/Cmd+Enter submits the form a textarea belongs to (plain Enter adds a line). */
export function submitOnModEnter(e: KeyboardEvent): void {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    (e.currentTarget as HTMLTextAreaElement).form?.requestSubmit();
  }
}

export function FieldError(props: { id: string; message: string | null | undefined }) {
  if (!props.message) return null;
  return (
    <p class="field-error" id={props.id} role="alert">
      {props.message}
    </p>
  );
}

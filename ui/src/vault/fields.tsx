// Form fields shared by the vault dialogs.

import { useState } from "preact/hooks";
import { EyeIcon, EyeOffIcon } from "../components/icons";
import { FieldError, submitOnModEnter } from "../components/modal";

/**
 * A secret value input: masked by default (also for multi-line values such as PEM keys),
 * with a show/hide toggle. Never autocompleted, spell-checked or remembered by the webview.
 */
export function SecretValueInput(props: {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  error?: string | null | undefined;
  hint?: string;
  autoFocus?: boolean;
}) {
  const [shown, setShown] = useState(false);
  const errId = `${props.id}-err`;
  return (
    <div class="field">
      <div class="field-label-row">
        <label for={props.id}>{props.label}</label>
        <button
          type="button"
          class="link-btn"
          aria-controls={props.id}
          aria-pressed={shown}
          data-testid="toggle-value-visibility"
          onClick={() => setShown(!shown)}
        >
          {shown ? <EyeOffIcon size={14} /> : <EyeIcon size={14} />}
          {shown ? "Hide" : "Show"}
        </button>
      </div>
      <textarea
        id={props.id}
        name="value"
        class={`input mono value-input${shown ? "" : " masked"}`}
        rows={2}
        value={props.value}
        autoFocus={props.autoFocus}
        autocomplete="off"
        autocorrect="off"
        autocapitalize="off"
        spellcheck={false}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? errId : `${props.id}-hint`}
        onInput={(e) => props.onInput((e.currentTarget as HTMLTextAreaElement).value)}
        onKeyDown={submitOnModEnter}
      />
      <FieldError id={errId} message={props.error} />
      {!props.error && props.hint && (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

export function TextField(props: {
  id: string;
  name: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  error?: string | null | undefined;
  hint?: string;
  placeholder?: string;
  mono?: boolean;
  autoFocus?: boolean;
  type?: "text" | "date";
  list?: string;
  optional?: boolean;
}) {
  const errId = `${props.id}-err`;
  return (
    <div class="field">
      <label for={props.id}>
        {props.label}
        {props.optional && <span class="optional"> optional</span>}
      </label>
      <input
        id={props.id}
        name={props.name}
        type={props.type ?? "text"}
        class={`input${props.mono ? " mono" : ""}`}
        value={props.value}
        placeholder={props.placeholder}
        autoFocus={props.autoFocus}
        autocomplete="off"
        spellcheck={false}
        list={props.list}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? errId : props.hint ? `${props.id}-hint` : undefined}
        onInput={(e) => props.onInput((e.currentTarget as HTMLInputElement).value)}
      />
      <FieldError id={errId} message={props.error} />
      {!props.error && props.hint && (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

// Key/value rows with an enable checkbox (query, headers, form fields, environment variables).
// A blank row at the end is always there to type into; it becomes part of the list once filled.

import { Fragment } from "preact";
import type { KeyValue } from "../ipc/bindings";
import { XIcon } from "../components/icons";
import { emptyRow } from "./model";
import { TemplateInput } from "./TemplateInput";

export function KeyValueEditor(props: {
  rows: KeyValue[];
  onChange: (rows: KeyValue[]) => void;
  label: string;
  namePlaceholder: string;
  valuePlaceholder: string;
  /** An error and the row name it is about (null: the first row without a name). */
  error?: { name: string | null; message: string } | null;
  /** Hide the enable checkbox (environment variables are always on). */
  noToggle?: boolean;
  /** Values are plain text, not templates: no completions. */
  plain?: boolean;
  testId?: string;
  idPrefix: string;
}) {
  const last = props.rows[props.rows.length - 1];
  const shown = last && last.name === "" && last.value === "" ? props.rows : [...props.rows, emptyRow()];
  const errorIndex = props.error
    ? props.error.name === null
      ? shown.findIndex((r) => r.name.trim() === "" && r.value.trim() !== "")
      : shown.findIndex((r) => r.name.trim().toLowerCase() === props.error!.name!.toLowerCase())
    : -1;

  const update = (i: number, patch: Partial<KeyValue>) => {
    const next = shown.map((r, j) => (j === i ? { ...r, ...patch } : r));
    // Drop trailing blank rows but keep what the person typed.
    while (next.length && next[next.length - 1]!.name === "" && next[next.length - 1]!.value === "") next.pop();
    props.onChange(next);
  };
  const remove = (i: number) => props.onChange(shown.filter((_, j) => j !== i && !(j === shown.length - 1 && shown[j]!.name === "" && shown[j]!.value === "")));

  return (
    <div class={`kv${props.noToggle ? " kv-no-toggle" : ""}`} role="table" aria-label={props.label} data-testid={props.testId}>
      <div class="kv-head" role="row">
        {!props.noToggle && <span role="columnheader" aria-label="Enabled" />}
        <span role="columnheader">Name</span>
        <span role="columnheader">Value</span>
        <span role="columnheader" aria-label="Remove" />
      </div>
      {shown.map((r, i) => {
        const blank = r.name === "" && r.value === "";
        const isLast = i === shown.length - 1 && blank;
        const err = i === errorIndex ? props.error?.message : null;
        const errId = `${props.idPrefix}-err-${i}`;
        return (
          <Fragment key={i}>
            <div class={`kv-row${r.enabled || props.noToggle ? "" : " off"}${err ? " has-error" : ""}`} role="row" data-testid="kv-row">
              {!props.noToggle && (
                <span role="cell" class="kv-check">
                  {!isLast && (
                    <input
                      type="checkbox"
                      checked={r.enabled}
                      aria-label={`Send ${r.name || "this row"}`}
                      title={r.enabled ? "Sent with the request" : "Not sent"}
                      onChange={(e) => update(i, { enabled: (e.currentTarget as HTMLInputElement).checked })}
                    />
                  )}
                </span>
              )}
              <span role="cell">
                <input
                  class="input input-sm mono"
                  value={r.name}
                  placeholder={isLast ? props.namePlaceholder : ""}
                  aria-label={`${props.label} name ${i + 1}`}
                  spellcheck={false}
                  autocomplete="off"
                  data-testid="kv-name"
                  onInput={(e) => update(i, { name: (e.currentTarget as HTMLInputElement).value })}
                />
              </span>
              <span role="cell">
{props.plain ? (
                  <input
                    class="input input-sm mono"
                    value={r.value}
                    placeholder={isLast ? props.valuePlaceholder : ""}
                    aria-label={`${props.label} value ${i + 1}`}
                    spellcheck={false}
                    autocomplete="off"
                    data-testid="kv-value"
                    onInput={(e) => update(i, { value: (e.currentTarget as HTMLInputElement).value })}
                  />
                ) : (
                  <TemplateInput
                    class="input input-sm mono"
                    value={r.value}
                    placeholder={isLast ? props.valuePlaceholder : ""}
                    ariaLabel={`${props.label} value ${i + 1}`}
                    ariaInvalid={!!err}
                    ariaDescribedBy={err ? errId : undefined}
                    testId="kv-value"
                    onValue={(value) => update(i, { value })}
                  />
                )}
              </span>
              <span role="cell">
                {!isLast && (
                  <button type="button" class="icon-btn icon-btn-sm" aria-label={`Remove ${r.name || "row"}`} title="Remove" onClick={() => remove(i)}>
                    <XIcon size={14} />
                  </button>
                )}
              </span>
            </div>
            {err && (
              <p class="field-error kv-error" id={errId} role="alert" data-testid="field-error">
                {err}
              </p>
            )}
          </Fragment>
        );
      })}
    </div>
  );
}

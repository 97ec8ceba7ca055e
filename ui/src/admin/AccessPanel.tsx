// The Access tab: groups and the roles granted to them. A principal's privileges come from the
// roles of its groups; a key works only when its principal holds `key:use`.

import { useEffect, useState } from "preact/hooks";
import { api, fieldKey } from "../ipc/api";
import type { AdminObject, IpcError } from "../ipc/bindings";
import { Modal } from "../components/modal";
import { PlusIcon } from "../components/icons";
import { TextField } from "../vault/fields";
import { splitList } from "../lib/format";
import { list, str } from "./model";
import { SyncBadgeView } from "./PrincipalDetail";

export const PRIVILEGES: ReadonlyArray<{ name: string; text: string }> = [
  { name: "key:use", text: "Its keys may authenticate at all" },
  { name: "admin:read", text: "Read every object and the change feed" },
  { name: "admin:write", text: "Change principals, groups, roles, profiles" },
  { name: "keys:manage", text: "Issue and govern anyone's keys" },
  { name: "keys:self", text: "Issue and govern its own keys" },
  { name: "audit:read", text: "Read the audit log" },
];

const query = (kind: "group" | "role") => ({ connection: null, kind, search: null, principalId: null, enabled: null, pendingOnly: false, includeInactive: false });

export function useGroups(version: number): AdminObject[] {
  const [groups, setGroups] = useState<AdminObject[]>([]);
  useEffect(() => {
    let live = true;
    api
      .adminList(query("group"))
      .then((g) => live && setGroups(g))
      .catch(() => live && setGroups([]));
    return () => {
      live = false;
    };
  }, [version]);
  return groups;
}

export function GroupChecks(props: { groups: AdminObject[]; chosen: string[]; onChange: (ids: string[]) => void; idPrefix: string }) {
  if (props.groups.length === 0) return <p class="hint">No groups yet: create one in the Access tab.</p>;
  return (
    <div class="check-grid">
      {props.groups.map((g) => (
        <label class="check">
          <input
            type="checkbox"
            checked={props.chosen.includes(g.id)}
            data-testid={`${props.idPrefix}-${str(g, "name")}`}
            onChange={(e) => {
              const on = (e.currentTarget as HTMLInputElement).checked;
              props.onChange(on ? [...props.chosen, g.id] : props.chosen.filter((x) => x !== g.id));
            }}
          />{" "}
          {str(g, "name")}
        </label>
      ))}
    </div>
  );
}

function GroupDialog(props: { onClose: () => void; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    if (!name.trim()) return setErrors({ name: "Give the group a name, e.g. api-clients." });
    setBusy(true);
    setErrors({});
    setGeneral(null);
    try {
      await api.adminCreate({ connection: null, kind: "group", fields: { name: name.trim(), description: description.trim() } });
      props.onCreated();
    } catch (err) {
      const x = err as IpcError;
      if (fieldKey(x.field) === "name") setErrors({ name: x.message });
      else setGeneral(x.message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Modal title="New group" onClose={props.onClose} size="sm" testId="group-dialog">
      <form class="modal-body form" onSubmit={submit} novalidate>
        {general && <div class="callout callout-danger">{general}</div>}
        <TextField id="g-name" name="name" label="Name" value={name} onInput={setName} error={errors.name} placeholder="api-clients" mono autoFocus />
        <TextField id="g-description" name="description" label="Description" value={description} onInput={setDescription} optional />
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy} data-testid="group-confirm">
            {busy ? "Creating…" : "Create group"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

function RoleDialog(props: { groups: AdminObject[]; onClose: () => void; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [privileges, setPrivileges] = useState<string[]>(["key:use"]);
  const [custom, setCustom] = useState("");
  const [groups, setGroups] = useState<string[]>([]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    if (!name.trim()) return setErrors({ name: "Give the role a name, e.g. api-access." });
    setBusy(true);
    setErrors({});
    setGeneral(null);
    try {
      const all = [...privileges, ...splitList(custom)];
      await api.adminCreate({ connection: null, kind: "role", fields: { name: name.trim(), privileges: all, groups } });
      props.onCreated();
    } catch (err) {
      const x = err as IpcError;
      const k = fieldKey(x.field);
      if (k === "name" || k === "privileges") setErrors({ [k]: x.message });
      else setGeneral(x.message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Modal title="New role" subtitle="Privileges granted to the members of its groups." onClose={props.onClose} testId="role-dialog">
      <form class="modal-body form" onSubmit={submit} novalidate>
        {general && <div class="callout callout-danger">{general}</div>}
        <TextField id="r-name" name="name" label="Name" value={name} onInput={setName} error={errors.name} placeholder="api-access" mono autoFocus />
        <div class="field">
          <span class="label">Privileges</span>
          <div class="check-grid">
            {PRIVILEGES.map((p) => (
              <label class="check" title={p.text}>
                <input
                  type="checkbox"
                  checked={privileges.includes(p.name)}
                  data-testid={`priv-${p.name}`}
                  onChange={(e) => {
                    const on = (e.currentTarget as HTMLInputElement).checked;
                    setPrivileges(on ? [...privileges, p.name] : privileges.filter((x) => x !== p.name));
                  }}
                />{" "}
                <span>
                  <code>{p.name}</code> <span class="muted small">{p.text}</span>
                </span>
              </label>
            ))}
          </div>
        </div>
        <TextField id="r-custom" name="privileges" label="Other privileges" value={custom} onInput={setCustom} error={errors.privileges} placeholder="invoices:read, invoices:write" mono optional hint="Scopes your APIs check, comma-separated." />
        <div class="field">
          <span class="label">Granted to groups</span>
          <GroupChecks groups={props.groups} chosen={groups} onChange={setGroups} idPrefix="role-group" />
        </div>
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy} data-testid="role-confirm">
            {busy ? "Creating…" : "Create role"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

export function AccessPanel(props: { version: number; onChanged: () => void }) {
  const groups = useGroups(props.version);
  const [roles, setRoles] = useState<AdminObject[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [dialog, setDialog] = useState<"group" | "role" | null>(null);
  useEffect(() => {
    let live = true;
    api
      .adminList(query("role"))
      .then((r) => live && (setRoles(r), setError(null)))
      .catch((e: IpcError) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [props.version]);
  const groupName = (id: string) => {
    const g = groups.find((x) => x.id === id);
    return g ? str(g, "name") : id;
  };
  const done = () => (setDialog(null), props.onChanged());
  return (
    <div class="access" data-testid="access-panel">
      {error && <p class="field-error">{error}</p>}
      <section>
        <div class="ob-section-head">
          <h3>Groups</h3>
          <span class="spacer" />
          <button type="button" class="btn btn-sm" onClick={() => setDialog("group")} data-testid="new-group">
            <PlusIcon size={13} /> New group
          </button>
        </div>
        <ul class="ob-list ob-compact">
          {groups.map((g) => (
            <li class="ob-line" data-testid="group-row" data-name={str(g, "name")}>
              <strong class="mono">{str(g, "name")}</strong>
              <span class="muted small">{str(g, "description")}</span>
              <span class="spacer" />
              <SyncBadgeView o={g} />
            </li>
          ))}
        </ul>
      </section>
      <section>
        <div class="ob-section-head">
          <h3>Roles</h3>
          <span class="spacer" />
          <button type="button" class="btn btn-sm" onClick={() => setDialog("role")} data-testid="new-role">
            <PlusIcon size={13} /> New role
          </button>
        </div>
        <ul class="ob-list ob-compact">
          {roles.map((r) => (
            <li class="ob-line role-line" data-testid="role-row" data-name={str(r, "name")}>
              <strong class="mono">{str(r, "name")}</strong>
              <span class="chips">
                {list(r, "privileges").map((p) => (
                  <span class="chip chip-sm mono">{p}</span>
                ))}
              </span>
              <span class="spacer" />
              <span class="muted small">{list(r, "groups").length ? `to ${list(r, "groups").map(groupName).join(", ")}` : "no groups"}</span>
              <SyncBadgeView o={r} />
            </li>
          ))}
        </ul>
      </section>
      {dialog === "group" && <GroupDialog onClose={() => setDialog(null)} onCreated={done} />}
      {dialog === "role" && <RoleDialog groups={groups} onClose={() => setDialog(null)} onCreated={done} />}
    </div>
  );
}

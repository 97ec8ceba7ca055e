// Typed calls to the Rust commands in src-tauri/src/commands.rs. Every command takes one
// argument named `req` and answers `T` or rejects with an `IpcError`.

import { invoke } from "@tauri-apps/api/core";
import { sentence } from "../lib/format";
import type {
  ActionRef,
  AdminAction,
  AdminAuditEntry,
  AdminAuditQuery,
  AdminCreate,
  AdminCreateKey,
  AdminCreatedKey,
  AdminListQuery,
  AdminObject,
  AdminRef,
  AdminRotateKey,
  AdminSetEnabled,
  AdminSyncReport,
  AdminSyncStatus,
  AdminUpdate,
  ChooseBackend,
  ConnectServer,
  Connected,
  ConnectionRef,
  OutboxQuery,
  ResolveConflict,
  CopyCurl,
  CopyReceipt,
  CopyText,
  CreateSecret,
  CurlCopied,
  Environment,
  HistoryEntry,
  HistoryQuery,
  IpcError,
  KeyProfile,
  ListSecrets,
  NameRef,
  RequestPreview,
  RequestSpec,
  SaveRequest,
  SavedRequest,
  SendResult,
  Passphrase,
  ReplaceValue,
  RevealedSecret,
  SecretRef,
  SecretSummary,
  SetEnabled,
  UpdateSecret,
  ValueVersion,
  VaultStatus,
} from "./bindings";

/** Anything a command rejects with, turned into the one error shape the window shows. */
export function toIpcError(e: unknown): IpcError {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const o = e as { code: unknown; message: unknown; field?: unknown };
    return {
      code: typeof o.code === "string" ? (o.code as IpcError["code"]) : "internal",
      message: sentence(String(o.message)),
      field: typeof o.field === "string" ? o.field : null,
    };
  }
  return { code: "internal", message: typeof e === "string" ? sentence(e) : "Something went wrong inside Keywarden.", field: null };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

export const api = {
  status: () => call<VaultStatus>("vault_status"),
  selfTest: () => call<VaultStatus>("self_test"),
  listSecrets: (req: ListSecrets) => call<SecretSummary[]>("list_secrets", { req }),
  createSecret: (req: CreateSecret) => call<SecretSummary>("create_secret", { req }),
  updateSecret: (req: UpdateSecret) => call<SecretSummary>("update_secret", { req }),
  replaceValue: (req: ReplaceValue) => call<SecretSummary>("replace_value", { req }),
  setEnabled: (req: SetEnabled) => call<SecretSummary>("set_enabled", { req }),
  deleteSecret: (req: SecretRef) => call<null>("delete_secret", { req }),
  revealSecret: (req: SecretRef) => call<RevealedSecret>("reveal_secret", { req }),
  copySecret: (req: SecretRef) => call<CopyReceipt>("copy_secret", { req }),
  copyText: (req: CopyText) => call<CopyReceipt>("copy_text", { req }),
  secretVersions: (req: SecretRef) => call<ValueVersion[]>("secret_versions", { req }),
  unlockVault: (req: Passphrase) => call<VaultStatus>("unlock_vault", { req }),
  chooseBackend: (req: ChooseBackend) => call<VaultStatus>("choose_backend", { req }),
  // Requests screen (src-tauri/src/requests.rs)
  listProfiles: () => call<KeyProfile[]>("list_profiles"),
  saveProfile: (req: KeyProfile) => call<KeyProfile[]>("save_profile", { req }),
  deleteProfile: (req: NameRef) => call<KeyProfile[]>("delete_profile", { req }),
  listEnvironments: () => call<Environment[]>("list_environments"),
  saveEnvironment: (req: Environment) => call<Environment[]>("save_environment", { req }),
  deleteEnvironment: (req: NameRef) => call<Environment[]>("delete_environment", { req }),
  previewRequest: (req: RequestSpec) => call<RequestPreview>("preview_request", { req }),
  sendRequest: (req: RequestSpec) => call<SendResult>("send_request", { req }),
  copyAsCurl: (req: CopyCurl) => call<CurlCopied>("copy_as_curl", { req }),
  listHistory: (req: HistoryQuery) => call<HistoryEntry[]>("list_history", { req }),
  clearHistory: () => call<null>("clear_history"),
  listSavedRequests: () => call<SavedRequest[]>("list_saved_requests"),
  saveRequest: (req: SaveRequest) => call<SavedRequest>("save_request", { req }),
  deleteSavedRequest: (req: SecretRef) => call<null>("delete_saved_request", { req }),
  // Admin screen (src-tauri/src/admin.rs)
  adminConnect: (req: ConnectServer) => call<Connected>("admin_connect", { req }),
  adminConnectEmbedded: () => call<Connected>("admin_connect_embedded"),
  adminDisconnect: (req: ConnectionRef) => call<null>("admin_disconnect", { req }),
  adminStatus: () => call<AdminSyncStatus>("admin_status"),
  adminStartSync: () => call<AdminSyncStatus>("admin_start_sync"),
  adminSyncNow: (req: ConnectionRef) => call<AdminSyncReport[]>("admin_sync_now", { req }),
  adminList: (req: AdminListQuery) => call<AdminObject[]>("admin_list", { req }),
  adminGet: (req: AdminRef) => call<AdminObject>("admin_get", { req }),
  adminRefresh: (req: AdminRef) => call<AdminObject>("admin_refresh", { req }),
  adminCreate: (req: AdminCreate) => call<AdminObject>("admin_create", { req }),
  adminUpdate: (req: AdminUpdate) => call<AdminObject>("admin_update", { req }),
  adminSetEnabled: (req: AdminSetEnabled) => call<AdminObject>("admin_set_enabled", { req }),
  adminDelete: (req: AdminRef) => call<ActionRef>("admin_delete", { req }),
  adminRevokeKey: (req: AdminRef) => call<ActionRef>("admin_revoke_key", { req }),
  adminCreateKey: (req: AdminCreateKey) => call<AdminCreatedKey>("admin_create_key", { req }),
  adminRotateKey: (req: AdminRotateKey) => call<AdminCreatedKey>("admin_rotate_key", { req }),
  adminOutbox: (req: OutboxQuery) => call<AdminAction[]>("admin_outbox", { req }),
  adminRetry: (req: ActionRef) => call<null>("admin_retry", { req }),
  adminRetryAll: (req: ConnectionRef) => call<number>("admin_retry_all", { req }),
  adminDiscard: (req: ActionRef) => call<AdminAction>("admin_discard", { req }),
  adminConflicts: (req: ConnectionRef) => call<AdminAction[]>("admin_conflicts", { req }),
  adminResolve: (req: ResolveConflict) => call<AdminAction>("admin_resolve", { req }),
  adminAudit: (req: AdminAuditQuery) => call<AdminAuditEntry[]>("admin_audit", { req }),
};

/** Normalises an error's field name so `allowed_hosts`, `allowedHosts` and `allowedhosts` all match. */
export function fieldKey(field: string | null | undefined): string | null {
  return field ? field.replace(/[_\-\s]/g, "").toLowerCase() : null;
}

/** The shortcuts the window answers, as shown in Settings and in the help dialog. */
export const SHORTCUTS: ReadonlyArray<readonly [string, string]> = [
  ["/ / Ctrl+F", "Search secrets"],
  ["Ctrl+N", "New secret"],
  ["↑ / ↓", "Move through the list (also from the search box)"],
  ["Enter", "Edit the selected secret (in the list)"],
  ["E", "Edit the selected secret"],
  ["Ctrl+Shift+C", "Copy the selected secret's value"],
  ["Delete", "Delete the selected secret (asks first)"],
  ["Esc", "Close a dialog, or clear the search"],
  ["Ctrl+Enter", "Save a dialog from a multi-line value"],
  ["Ctrl+Enter", "Send the request (Requests)"],
  ["Ctrl+S", "Save the request in a collection (Requests)"],
  ["Ctrl+N", "New request (Requests)"],
  ["Ctrl+F", "Find in the response body (Requests)"],
  ["Ctrl+Shift+L", "Switch between light and dark"],
  ["?", "Show these shortcuts"],
];

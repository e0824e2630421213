/**
 * Asks for a sealed room's passphrase in a modal dialog: the page's
 * {@linkcode PassphraseSource}, with the terminal client's rules (a new
 * passphrase is asked twice and must be long enough: `askNewPassphrase`).
 * The passphrase goes to the key derivation Worker and nowhere else.
 *
 * @module
 */
import { askNewPassphrase, type PassphraseSource } from "../passphrase.ts";

/** The dialog's parts in index.html. */
export interface PassphraseDialogParts {
  readonly dialog: HTMLDialogElement;
  readonly form: HTMLFormElement;
  readonly label: HTMLElement;
  readonly input: HTMLInputElement;
  readonly cancel: HTMLButtonElement;
}

/**
 * A passphrase source that asks in the dialog, one question at a time.
 *
 * @param parts The dialog's elements.
 * @param refuse Shows why a new passphrase was refused (too short, no match).
 * @returns The source for `SealedRooms`.
 */
export function dialogPassphrase(
  parts: PassphraseDialogParts,
  refuse: (message: string) => void,
): PassphraseSource {
  let queue: Promise<unknown> = Promise.resolve();
  const ask = (label: string) => {
    const answer = queue.then(() => askOnce(parts, label));
    queue = answer;
    return answer;
  };
  return async ({ room, purpose }) => {
    if (purpose !== "seal") return await ask(`Passphrase for #${room}`);
    const asked = await askNewPassphrase((label) => ask(label.replace(/:\s*$/, "")), room);
    if ("refusal" in asked) {
      refuse(asked.refusal);
      return undefined;
    }
    return asked.passphrase;
  };
}

/** Shows the dialog once: the typed passphrase, or undefined when cancelled. */
function askOnce(parts: PassphraseDialogParts, label: string): Promise<string | undefined> {
  const { dialog, form, input, cancel } = parts;
  parts.label.textContent = label;
  input.value = "";
  return new Promise((resolve) => {
    const finish = (value: string | undefined) => {
      form.removeEventListener("submit", submitted);
      cancel.removeEventListener("click", cancelled);
      dialog.removeEventListener("cancel", cancelled);
      input.value = "";
      dialog.close();
      resolve(value);
    };
    const submitted = (event: Event) => {
      event.preventDefault();
      finish(input.value);
    };
    const cancelled = (event: Event) => {
      event.preventDefault();
      finish(undefined);
    };
    form.addEventListener("submit", submitted);
    cancel.addEventListener("click", cancelled);
    // Escape closes a modal dialog: that is a cancel.
    dialog.addEventListener("cancel", cancelled);
    dialog.showModal();
    input.focus();
  });
}

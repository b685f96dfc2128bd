/**
 * What the pages' scripts share: the server renders every state of a page, and a script that posts a
 * form in the background puts the parts that changed into the page (no second renderer in the browser).
 */

/** Every wait has a deadline: longer than the server's receive limit plus its prediction deadline. */
export const REQUEST_DEADLINE_MS = 180_000;

export function byId<T extends HTMLElement = HTMLElement>(id: string): T | null {
  return document.getElementById(id) as T | null;
}

/** Replaces each element of the page that has one of these ids by its counterpart in `doc`. */
export function swapFrom(doc: Document, ids: string[]): void {
  for (const id of ids) {
    const fresh = doc.getElementById(id);
    const old = byId(id);
    if (fresh && old) old.replaceWith(document.importNode(fresh, true));
  }
}

export function parseHtml(html: string): Document {
  return new DOMParser().parseFromString(html, 'text/html');
}

/** Moves the focus to what changed: an error or a flash when there is one, else `target`. */
export function focusOutcome(target: HTMLElement | null): void {
  const messages = byId('messages');
  const el = messages && messages.childElementCount > 0 ? messages : target;
  if (!el) return;
  el.focus({ preventScroll: true });
  el.scrollIntoView({ block: 'start', behavior: 'smooth' });
}

/** Shows a message of this script's own (the server's messages come with the pages it sends). */
export function showError(message: string): void {
  const messages = byId('messages');
  if (!messages) return;
  const p = document.createElement('p');
  p.className = 'error';
  p.setAttribute('role', 'alert');
  p.textContent = message;
  messages.replaceChildren(p);
  focusOutcome(null);
}

export function clearMessages(): void {
  byId('messages')?.replaceChildren();
}

export interface Answer {
  doc: Document;
  /** The address the answer came from, after redirects. */
  url: string;
  /** The HTTP status of that answer: an error page is a page too, and parses like one. */
  status: number;
}

/** Posts a form in the background (as the browser would, redirects followed) and reads the page it answers with. */
export async function postForm(form: HTMLFormElement): Promise<Answer> {
  const data = new FormData(form);
  // Sent in the form's own encoding: urlencoded unless it says multipart, as the browser would.
  const body = form.enctype === 'multipart/form-data' ? data : new URLSearchParams([...data].map(([k, v]) => [k, String(v)]));
  const response = await fetch(form.action, { method: 'POST', body, signal: AbortSignal.timeout(REQUEST_DEADLINE_MS) });
  return { doc: parseHtml(await response.text()), url: response.url, status: response.status };
}

/** Shows the elements that only make sense with this script (drop hints, example buttons, copy buttons). */
export function revealScripted(root: ParentNode = document): void {
  for (const el of root.querySelectorAll<HTMLElement>('.js-only')) el.hidden = false;
}

/** The review page, enhanced: "Mark reviewed" updates the list in place and keeps the focus where it was. */
import { byId, focusOutcome, postForm, showError, swapFrom } from './page-swap.ts';

document.addEventListener('submit', async (e) => {
  const form = e.target as HTMLFormElement;
  if (!form.classList.contains('mark')) return;
  e.preventDefault();
  const id = (form.elements.namedItem('id') as HTMLInputElement).value;
  const button = form.querySelector<HTMLButtonElement>('button')!;
  button.disabled = true;
  try {
    const answer = await postForm(form);
    swapFrom(answer.doc, ['reports', 'review-count', 'filters']);
    // The same card when it is still listed (a filter may hide it now), else the count.
    const card = byId(`report-${id}`);
    const next = card?.querySelector<HTMLButtonElement>('form.mark button');
    if (next) next.focus();
    else focusOutcome(byId('review-count'));
  } catch {
    button.disabled = false;
    showError('The change could not be saved: check the connection and try again.');
  }
});

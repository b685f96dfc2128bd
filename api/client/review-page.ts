/** The review page, enhanced: "Mark reviewed" updates the list in place and keeps the focus where it was. */
import { byId, clearMessages, focusOutcome, postForm, showError, swapFrom } from './page-swap.ts';

document.addEventListener('submit', async (e) => {
  const form = e.target as HTMLFormElement;
  if (!form.classList.contains('mark')) return;
  e.preventDefault();
  const id = (form.elements.namedItem('id') as HTMLInputElement).value;
  const button = form.querySelector<HTMLButtonElement>('button')!;
  button.disabled = true;
  try {
    const answer = await postForm(form);
    // An error page (admin token refused, a bad form) has no list to take: it left the button disabled
    // and said nothing. Its message is shown, and the button can be tried again.
    if (answer.status >= 400 || !answer.doc.getElementById('reports')) {
      button.disabled = false;
      const said = answer.doc.querySelector('.error')?.textContent?.trim();
      showError(said ? `The change could not be saved: ${said}` : `The change could not be saved (the server answered ${answer.status}); try again.`);
      return;
    }
    // A failure's message stayed after a retry succeeded, saying the change was not saved when it was.
    clearMessages();
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

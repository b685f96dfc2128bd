/** A result's own actions, enhanced: copy its link, and report it without leaving the page (sent once). */
import { byId, focusOutcome, postForm, revealScripted, showError, swapFrom } from './page-swap.ts';

export function enhanceResult(): void {
  const copy = byId<HTMLButtonElement>('copy-link');
  const link = byId<HTMLAnchorElement>('result-link');
  // The outcome goes to a status region that is in the page before it is written: screen readers
  // announce its changes (the button's own text changed, which they do not announce).
  const status = byId('copy-status');
  if (copy && link && status) {
    // The clipboard is only offered to pages served over HTTPS or from localhost.
    if (!navigator.clipboard) copy.hidden = true;
    let clear: ReturnType<typeof setTimeout> | undefined;
    copy.addEventListener('click', async () => {
      await navigator.clipboard.writeText(link.href).then(
        () => (status.textContent = 'Link copied'),
        () => (status.textContent = 'Copy failed: use the link'),
      );
      // Emptied again, so a second copy is announced too.
      clearTimeout(clear);
      clear = setTimeout(() => (status.textContent = ''), 3000);
    });
  }

  const report = byId<HTMLFormElement>('report-form');
  if (!report) return;
  report.addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = report.querySelector<HTMLButtonElement>('button[type=submit]')!;
    if (button.disabled) return;
    // One report per click: the button stays disabled while it is sent (the server stores a report once anyway).
    button.disabled = true;
    try {
      const answer = await postForm(report);
      swapFrom(answer.doc, ['messages', 'result-slot']);
      revealScripted(byId('result-slot') ?? document);
      history.replaceState(null, '', answer.url);
      enhanceResult();
      focusOutcome(byId('report-saved') ?? byId('result'));
    } catch {
      button.disabled = false;
      showError('The report could not be sent: check the connection and try again.');
    }
  });
}

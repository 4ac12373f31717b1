/**
 * Copy buttons: one click handler on `document` for every `.denbi-copy[data-copy]` element.
 *
 * The Python side (`denbi_jupyter.panels._html.copy_button`) renders the buttons inside
 * `ipywidgets.HTML`, which sets `innerHTML`: scripts never run there. Each button carries an
 * inline fallback; this handler runs first (capture phase) and marks the event handled with
 * `preventDefault()`, so the fallback steps aside.
 */

/** The class of a copy button; its `data-copy` attribute holds the text. */
export const COPY_CLASS = 'denbi-copy';

/** How long the button says "Copied" before it shows its label again. */
const FEEDBACK_MS = 1500;

/** Copy through a hidden textarea: the way that works outside secure contexts. */
function copyWithTextarea(text: string): boolean {
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.top = '-1000px';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  document.body.removeChild(area);
  return ok;
}

/** Copy `text`: the async clipboard API where allowed, the textarea otherwise. */
export async function copyText(text: string): Promise<boolean> {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission refused or document not focused: try the old way.
    }
  }
  return copyWithTextarea(text);
}

function feedback(button: HTMLElement, message: string): void {
  const label = button.getAttribute('data-label') || 'Copy';
  button.textContent = message;
  window.setTimeout(() => {
    button.textContent = label;
  }, FEEDBACK_MS);
}

function onClick(event: MouseEvent): void {
  const target = event.target;
  if (!(target instanceof Element) || event.defaultPrevented) {
    return;
  }
  const button = target.closest(`.${COPY_CLASS}`);
  if (!(button instanceof HTMLElement) || !button.hasAttribute('data-copy')) {
    return;
  }
  event.preventDefault();
  const text = button.getAttribute('data-copy') ?? '';
  void copyText(text).then(ok => feedback(button, ok ? 'Copied' : 'Copy failed'));
}

/** Install the delegated handler on `root` (once); returns a function that removes it. */
export function installCopyHandler(root: Document = document): () => void {
  root.addEventListener('click', onClick, true);
  return () => root.removeEventListener('click', onClick, true);
}

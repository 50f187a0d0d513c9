// Modal dialogs (<dialog>): a confirmation before anything that changes a stream, and forms.
// Each resolves with the form's values, or null when cancelled.

import { h } from './dom.js';

// Shows `fields` (elements with `name`s) in a modal form; resolves with their values on
// `submitLabel`, null on Cancel or Escape.
export function ask({ title, message, fields = [], submitLabel, danger = false }) {
  return new Promise((resolve) => {
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const form = h('form', { method: 'dialog' },
      h('h2', {}, title),
      message ? h('p', {}, message) : null,
      fields,
      h('div', { class: 'buttons' }, cancel, h('button', { type: 'submit', class: danger ? 'danger' : '' }, submitLabel)),
    );
    const dialog = h('dialog', { class: 'modal' }, form);
    let values = null;
    form.addEventListener('submit', () => {
      values = Object.fromEntries(new FormData(form));
    });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(values);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export async function confirmAction(title, message, submitLabel, danger = false) {
  return (await ask({ title, message, submitLabel, danger })) !== null;
}

// A labelled input for `ask`.
export function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

// Building elements: h() for HTML, svg() for SVG. Children may be strings, nodes, arrays or
// null; properties starting with "on" become event listeners.

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(element, props, children, asAttributes) {
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (asAttributes || name.includes('-') || name === 'class' || name === 'for') element.setAttribute(name, value);
    else element[name] = value;
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function h(tag, props, ...children) {
  return fill(document.createElement(tag), props, children, false);
}

export function svg(tag, attributes, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attributes, children, true);
}

// Replaces an element's children.
export function show(element, ...children) {
  element.replaceChildren();
  return fill(element, null, children, false);
}

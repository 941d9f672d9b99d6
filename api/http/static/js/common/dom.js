// Building the page with the DOM, never with HTML strings: every value from the server becomes text.

/** An element: h("td", { class: "n", dataset: { id: 3 } }, "text", childNode, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) { continue; }
    if (key === "dataset") { Object.assign(el.dataset, value); } else if (key === "on") {
      for (const [event, fn] of Object.entries(value)) { el.addEventListener(event, fn); }
    } else if (key === "text") { el.textContent = value; } else { el.setAttribute(key, value === true ? "" : String(value)); }
  }
  append(el, children);
  return el;
}

/** An SVG element (charts). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) { el.setAttribute(key, String(value)); }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) { continue; }
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

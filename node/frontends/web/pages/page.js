// What the sign-in and key pages share: the status line, and a JSON POST to
// the node that served them (same origin: the page policy allows no other).
const status = document.getElementById("status");

/** Shows `text` in the page's status line, as an error or not. */
export function show(text, isError = false) {
  status.textContent = text;
  status.className = isError ? "error" : "";
}

/** Posts `body` as JSON; resolves with whether it succeeded and the JSON answer. */
export async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  return { ok: response.ok, body: await response.json() };
}

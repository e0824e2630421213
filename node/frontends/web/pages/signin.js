// The sign-in page: trades the one-time token in the link's fragment for
// the node's sign-in cookie. The fragment never leaves the browser in a
// request line, a log or a Referer; it is taken out of the address bar and
// the history before anything else.
import { post, show } from "./page.js";

const signout = document.getElementById("signout");
const token = location.hash.slice(1);
history.replaceState(null, "", location.pathname);

function signedIn(who) {
  show(`Signed in as ${who.nick} (key ${who.fingerprint}).`);
  signout.hidden = false;
}

async function start() {
  if (token !== "") {
    const answer = await post("/signin/token", { token });
    if (answer.ok) signedIn(answer.body);
    else show(answer.body.error, true);
    return;
  }
  const response = await fetch("/signin/session", { credentials: "same-origin" });
  if (response.ok) signedIn(await response.json());
  else show("Not signed in: this browser joins as a guest.");
}

signout.addEventListener("click", async () => {
  await post("/signin/out", {});
  signout.hidden = true;
  show("Signed out: this browser joins as a guest.");
});

start().catch((error) => show(`Cannot sign in: ${error.message}`, true));

// The key page: asks the node for a challenge bound to a nick and a public
// key, shows the ssh-keygen command that signs it, and posts the signature.
import { post, show } from "./page.js";

const ask = document.getElementById("ask");
const prove = document.getElementById("prove");
let challenge = "";

ask.addEventListener("submit", async (event) => {
  event.preventDefault();
  const answer = await post("/keys/challenge", {
    nick: ask.elements.nick.value.trim(),
    key: ask.elements.key.value.trim(),
  });
  if (!answer.ok) return show(answer.body.error, true);
  challenge = answer.body.challenge;
  document.getElementById("command").textContent = answer.body.command;
  prove.hidden = false;
  show("");
});

prove.addEventListener("submit", async (event) => {
  event.preventDefault();
  const answer = await post("/keys/register", {
    challenge,
    signature: prove.elements.signature.value,
  });
  // A challenge is used once, whatever the outcome: ask again after a refusal.
  prove.hidden = true;
  prove.elements.signature.value = "";
  if (!answer.ok) return show(`${answer.body.error}. Get a new challenge to try again.`, true);
  show(`${answer.body.nick} is registered to your key ${answer.body.fingerprint}.`);
});

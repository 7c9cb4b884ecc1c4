// omnigate survey page (/csat/{token}): asks its own URL for the survey
// (Accept: application/json), draws the scale, and posts the answer as
// JSON. Text goes in with textContent only; the page has no inline script
// (strict CSP). The server has already checked the link: an invalid,
// expired or used one never reaches this module (it gets a page of its own),
// but a link used meanwhile in another tab comes back as an error here.

const $ = (id) => document.getElementById(id);
const url = location.pathname;
const STAR = "\u2605";
const THUMBS = { 2: "\u{1F44D}", 1: "\u{1F44E}" };
const WORDS5 = ["", "Poor", "Fair", "Good", "Very good", "Excellent"];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function show(title, note, done) {
  $("title").textContent = title;
  $("note").textContent = note;
  $("form").hidden = true;
  $("card").classList.toggle("done", !!done);
}

async function answer(res) {
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  return body;
}

function errorText(body, status) {
  const code = body && body.error && body.error.code;
  if (code === "link_used") return ["This conversation was rated already", "Each survey link takes one answer. Thank you!"];
  if (code === "link_expired") return ["This survey link has expired", "Thank you all the same!"];
  if (code === "link_invalid") return ["This survey link is not valid", "Please open the link exactly as it came in the e-mail."];
  const msg = body && body.error && body.error.message;
  return ["Something went wrong", msg || "Please try again later (" + status + ")."];
}

function drawScale(survey) {
  const fs = $("scale");
  const thumbs = survey.scale === 2;
  fs.classList.add(thumbs ? "thumbs" : "stars");
  const order = thumbs ? [2, 1] : [1, 2, 3, 4, 5];
  const faces = [];
  const picked = el("p", "picked");
  picked.id = "picked";
  fs.after(picked);
  const mark = (v) => {
    for (const f of faces) f.face.classList.toggle("on", thumbs ? f.value === v : f.value <= v);
    picked.textContent = thumbs ? (v === 2 ? "Helpful" : "Not helpful") : WORDS5[v] || "";
    $("send").disabled = !v;
  };
  for (const v of order) {
    const label = el("label");
    const input = el("input");
    input.type = "radio";
    input.name = "score";
    input.value = String(v);
    input.setAttribute("aria-label", thumbs ? (v === 2 ? "Thumbs up" : "Thumbs down") : v + " of 5");
    const face = el("span", "face", thumbs ? THUMBS[v] : STAR);
    face.setAttribute("aria-hidden", "true");
    input.addEventListener("change", () => mark(v));
    label.append(input, face);
    fs.append(label);
    faces.push({ value: v, face });
  }
}

async function start() {
  let res;
  try {
    res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "omit" });
  } catch {
    show("Something went wrong", "The survey could not be loaded. Please check your connection.");
    return;
  }
  const survey = await answer(res);
  if (!res.ok || !survey || typeof survey.scale !== "number") {
    const [t, n] = errorText(survey, res.status);
    show(t, n);
    return;
  }
  $("title").textContent = survey.question;
  $("note").textContent = survey.scale === 2 ? "Did we help you?" : "Tap a star to rate us.";
  $("legend").textContent = survey.question;
  drawScale(survey);
  $("comment-box").hidden = !survey.comment;
  $("form").hidden = false;
  $("form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    send(survey);
  });
}

async function send(survey) {
  const checked = document.querySelector('input[name="score"]:checked');
  if (!checked) return;
  const body = { score: Number(checked.value) };
  const c = $("comment").value.trim();
  if (survey.comment && c) body.comment = c;
  $("send").disabled = true;
  $("error").textContent = "";
  let res;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    });
  } catch {
    $("error").textContent = "The answer could not be sent. Please try again.";
    $("send").disabled = false;
    return;
  }
  const out = await answer(res);
  if (res.ok && out) {
    show(out.thanks || "Thank you for your feedback!", "You can close this page.", true);
    return;
  }
  if (res.status === 400) {
    $("error").textContent = (out && out.error && out.error.message) || "That answer could not be read.";
    $("send").disabled = false;
    return;
  }
  const [t, n] = errorText(out, res.status);
  show(t, n);
}

start();

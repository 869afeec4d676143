// The publisher console's upload: a new version of a dataset (or the first version of a
// new one, from the metadata typed in the page) from files or a folder chosen in the
// browser, through the same two steps as the API. Each file is hashed here (SHA-256, in
// pieces, so a file larger than memory can be) and asked for by its digest first: a file
// the node already holds (part of an earlier version, or sent before) is not sent again. A
// large file goes in parts, each asked for and sent on its own, then joined by the node:
// an upload interrupted (a reload, a lost connection) goes on from the parts the node
// lacks. Progress is shown as bytes flow. Requests go to the console's copy of the
// publishing API with the session's form token in a header; the publisher token stays in
// the cookie no script can read.
"use strict";

(function () {
  const S = window.shulianSigning;
  if (!S) return;
  const hex = S.hex;
  const refusal = S.refusal;
  /** The items of a list typed in a field, split at commas (Chinese or Latin) or semicolons. */
  const list = (text) => text.split(/[,，、;；]/).map((item) => item.trim()).filter(Boolean);

  wireAnswers();
  const form = document.getElementById("publish-form");
  if (!form || !window.crypto || !crypto.subtle) return;
  const unavailable = document.getElementById("publish-unavailable");
  if (unavailable) unavailable.hidden = true;
  form.hidden = false;
  const status = document.getElementById("publish-status");
  const progress = document.getElementById("publish-progress");
  const submit = document.getElementById("publish-submit");
  // (No control may be named `dataset`: a form's controls shadow its own properties.)
  const session = { "Shulian-Form-Token": form.dataset.formToken };

  /** Parts a large file is sent in: each its own upload, so an interrupted upload resumes. */
  const PART_BYTES = 8 * 1024 * 1024;

  async function digestOf(blob) {
    return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer())));
  }

  /** A file's SHA-256, read a part at a time: memory stays one part however large the file. */
  async function fileDigest(file) {
    if (file.size <= PART_BYTES) return digestOf(file);
    const hasher = S.sha256Stream();
    for (let start = 0; start < file.size; start += PART_BYTES) {
      hasher.update(new Uint8Array(await file.slice(start, start + PART_BYTES).arrayBuffer()));
      progress.max = file.size;
      progress.value = Math.min(start + PART_BYTES, file.size);
    }
    return hex(hasher.digest());
  }

  /** Whether the node holds bytes of this digest that this publisher sent. */
  async function held(digest) {
    const probe = await fetch("/console/api/v1/blobs/" + digest, { method: "HEAD", headers: session });
    if (probe.ok) return true;
    if (probe.status === 404) return false;
    throw new Error(String(probe.status));
  }

  /** Sends bytes under their digest, showing progress from `offset` of `total`; an
   *  XMLHttpRequest, for its upload progress. Resolves with the bytes reported sent. */
  function upload(blob, digest, offset, total) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      let reported = 0;
      request.open("PUT", "/console/api/v1/blobs/" + digest);
      request.setRequestHeader("Content-Type", "application/octet-stream");
      request.setRequestHeader("Shulian-Form-Token", form.dataset.formToken);
      request.upload.onprogress = (event) => {
        reported = event.loaded;
        progress.max = total;
        progress.value = offset + event.loaded;
      };
      request.onload = () =>
        request.status < 300 ? resolve(reported) : reject(new Error(refusal(request.status, request.responseText)));
      request.onerror = () => reject(new Error(digest));
      request.send(blob);
    });
  }

  /** Sends a file the node lacks: in one upload when small, else the parts the node does
   *  not hold yet (sent before an interruption, they are not sent again), then joined. */
  async function send(file, digest, tally) {
    if (file.size <= PART_BYTES) {
      tally.bytesSent += await upload(file, digest, 0, file.size);
      return;
    }
    const parts = [];
    for (let start = 0; start < file.size; start += PART_BYTES) {
      const part = file.slice(start, Math.min(start + PART_BYTES, file.size));
      const partDigest = await digestOf(part);
      parts.push(partDigest);
      if (await held(partDigest)) {
        tally.partsHeld += 1;
        progress.max = file.size;
        progress.value = start + part.size;
        continue;
      }
      tally.bytesSent += await upload(part, partDigest, start, file.size);
      tally.partsSent += 1;
    }
    const joined = await fetch("/console/api/v1/blobs/" + digest + "/composition", {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json" }, session),
      body: JSON.stringify({ parts }),
    });
    if (!joined.ok) throw new Error(refusal(joined.status, await joined.text()));
  }

  const fields = form.elements;
  const newDataset = document.getElementById("new-dataset");
  const newOffer = document.getElementById("new-offer");
  wireNewDataset();

  /** Shows (and enables, so it is validated and sent) a fieldset, or hides and disables it. */
  function show(fieldset, shown) {
    fieldset.hidden = !shown;
    fieldset.disabled = !shown;
  }

  /** "New dataset" shows its metadata fields; a licensed one, its offer's terms too. */
  function wireNewDataset() {
    const update = () => {
      const fresh = fields.target.value === "";
      show(newDataset, fresh);
      show(newOffer, fresh && fields.newAccess.value === "licensed");
    };
    fields.target.addEventListener("change", update);
    fields.newAccess.addEventListener("change", update);
    update();
  }

  /** Text in Chinese and/or English, as the catalog keeps it; blank languages left out. */
  function localized(zh, en) {
    const text = {};
    if (zh.trim()) text.zh = zh.trim();
    if (en.trim()) text.en = en.trim();
    return text;
  }


  /** The metadata of a first version, from the page's fields (the node checks it). */
  function typedMetadata() {
    const metadata = {
      title: localized(fields.newTitleZh.value, fields.newTitleEn.value),
      description: localized(fields.newDescriptionZh.value, fields.newDescriptionEn.value),
      keywords: list(fields.newKeywords.value),
      license: { id: fields.newLicense.value.trim() },
      access: fields.newAccess.value,
    };
    if (metadata.access === "licensed") {
      metadata.offer = {
        priceFen: Math.round(Number(fields.newPrice.value) * 100),
        purposes: list(fields.newPurposes.value),
        maxValidityDays: Number(fields.newValidity.value),
        maxDownloads: Number(fields.newDownloads.value),
        licenseText: fields.newLicenseText.value.trim(),
        autoAccept: fields.newAutoAccept.checked,
      };
    }
    return metadata;
  }

  /** The files chosen, each with the name it is published under: a folder's files by their
   *  path inside the folder. */
  function chosenFiles() {
    const named = Array.from(fields.files.files, (file) => ({ file, name: file.name }));
    for (const file of fields.folder.files) {
      const path = (file.webkitRelativePath || file.name).split("/");
      named.push({ file, name: path.length > 1 ? path.slice(1).join("/") : path[0] });
    }
    return named;
  }

  async function publish() {
    const fresh = fields.target.value === "";
    const dataset = encodeURIComponent(fresh ? fields.newId.value.trim() : fields.target.value);
    const chosen = chosenFiles();
    if (chosen.length === 0) throw new Error(form.dataset.noFiles);
    let metadata;
    if (fresh) {
      metadata = typedMetadata();
    } else {
      const latest = await fetch("/api/v1/datasets/" + dataset + "/versions/latest", { cache: "no-store" });
      if (!latest.ok) throw new Error(refusal(latest.status, await latest.text()));
      metadata = (await latest.json()).manifest.metadata;
    }
    const files = [];
    const tally = { sent: 0, held: 0, bytesSent: 0, partsSent: 0, partsHeld: 0 };
    for (const { file, name } of chosen) {
      status.textContent = form.dataset.hashing + name;
      const digest = await fileDigest(file);
      if (await held(digest)) {
        tally.held += 1;
        status.textContent = form.dataset.held + name;
      } else {
        status.textContent = form.dataset.uploading + name;
        progress.value = 0;
        await send(file, digest, tally);
        tally.sent += 1;
      }
      files.push({ name, mediaType: file.type || "application/octet-stream", size: file.size, sha256: digest });
    }
    status.textContent = form.dataset.publishing;
    const answer = await fetch("/console/api/v1/datasets/" + dataset + "/versions", {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json" }, session),
      body: JSON.stringify({ metadata, files }),
    });
    const text = await answer.text();
    if (!answer.ok) throw new Error(refusal(answer.status, text));
    const outcome = JSON.parse(text);
    Object.assign(status.dataset, tally, { version: outcome.version, dataset: outcome.dataset });
    status.textContent =
      form.dataset.published + outcome.version + " · " + form.dataset.sentLabel + ": " + tally.sent + " · " + form.dataset.heldLabel + ": " + tally.held;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    submit.disabled = true;
    progress.hidden = false;
    status.classList.remove("error");
    delete status.dataset.version;
    publish()
      .catch((error) => {
        status.classList.add("error");
        status.textContent = form.dataset.failed + (error && error.message ? error.message : String(error));
      })
      .finally(() => {
        submit.disabled = false;
      });
  });

  /** Answers to open demands: signed with this browser's key (the market script keeps it),
   *  sent with the session's form token to the console's copy of the answer route. */
  function wireAnswers() {
    const market = window.shulianMarket;
    const texts = document.getElementById("market-texts");
    if (!S || !market || !texts) return;
    const words = JSON.parse(texts.textContent);
    for (const answerForm of document.querySelectorAll("form.answer-form")) {
      answerForm.hidden = false;
      const promise = answerForm.querySelector("fieldset.promise");
      const choose = () => show(promise, answerForm.elements.version.value === "");
      answerForm.elements.version.addEventListener("change", choose);
      choose();
      const status = answerForm.querySelector(".answer-status");
      const button = answerForm.querySelector("button.answer");
      answerForm.addEventListener("submit", (event) => {
        event.preventDefault();
        if (button.disabled) return;
        button.disabled = true;
        status.classList.remove("error");
        status.textContent = words.posting;
        answer(S, market, answerForm)
          .then(() => {
            status.textContent = words.answered;
          })
          .catch((error) => {
            status.classList.add("error");
            status.textContent = words.failed + (error && error.message ? error.message : String(error));
            button.disabled = false;
          });
      });
    }
  }

  /** What an answer offers: the version chosen (with its manifest's digest), or a promise
   *  of a delivery by the date given (the end of that day, UTC). */
  async function offered(fields) {
    if (fields.version.value === "") {
      return {
        dataset: fields.promiseDataset.value.trim(),
        promise: { fields: list(fields.promiseFields.value), deliverBy: fields.promiseDate.value + "T23:59:59Z" },
      };
    }
    const [dataset, version] = fields.version.value.split("@");
    const published = await fetch("/api/v1/datasets/" + encodeURIComponent(dataset) + "/versions/" + version, { cache: "no-store" });
    if (!published.ok) throw new Error(String(published.status));
    return { dataset, version: Number(version), manifestDigest: (await published.json()).manifestDigest };
  }

  async function answer(S, market, answerForm) {
    const key = await market.buyerKey();
    const node = await (await fetch("/.well-known/shulian-node")).json();
    const demand = answerForm.dataset.demand;
    const created = S.timestamp();
    const signed = await S.signDocument(
      {
        type: "ShulianDemandAnswer",
        node: node.id,
        demand,
        provider: S.didKey(key.publicKey),
        ...(await offered(answerForm.elements)),
        priceFen: Math.round(Number(answerForm.elements.price.value) * 100),
        note: answerForm.elements.note.value.trim(),
        nonce: hex(crypto.getRandomValues(new Uint8Array(16))),
        created,
      },
      key,
      created,
    );
    const sent = await fetch("/console/api/v1/demands/" + encodeURIComponent(demand) + "/answers", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Shulian-Form-Token": answerForm.dataset.formToken },
      body: JSON.stringify(signed),
    });
    if (!sent.ok) throw new Error(refusal(sent.status, await sent.text()));
  }
})();

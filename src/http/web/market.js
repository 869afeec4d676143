// The buyer's side of the market in the browser. An order is signed with a key this
// browser made (or imported) and keeps in IndexedDB, which only this origin can read;
// the agreement, the order's token and the buyer's acknowledgements are kept beside it.
// Files are fetched with the token in the Authorization header (never in an address or
// a cookie) and checked against the node-signed manifest's SHA-256 before they are
// saved; receipts are acknowledged with the buyer's signature; the evidence bundle is
// the `evidence.json` `shulian fetch` writes, which `shulian verify` checks offline.
// The words shown come from the page (`#market-texts`), in the reader's language.
"use strict";

(function () {
  const S = window.shulianSigning;
  const textsBlock = document.getElementById("market-texts");
  if (!S || !textsBlock) return;
  const texts = JSON.parse(textsBlock.textContent);

  // ---- The browser's store: keys by DID, orders by id.

  function database() {
    return new Promise((resolve, reject) => {
      const opening = indexedDB.open("shulian-buyer", 1);
      opening.onupgradeneeded = () => {
        opening.result.createObjectStore("keys", { keyPath: "did" });
        opening.result.createObjectStore("orders", { keyPath: "orderId" });
      };
      opening.onsuccess = () => resolve(opening.result);
      opening.onerror = () => reject(opening.error);
    });
  }

  async function stored(name, mode, work) {
    const db = await database();
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(name, mode);
      const request = work(transaction.objectStore(name));
      transaction.oncomplete = () => {
        db.close();
        resolve(request.result);
      };
      transaction.onerror = transaction.onabort = () => {
        db.close();
        reject(transaction.error);
      };
    });
  }

  const allOf = (name) => stored(name, "readonly", (store) => store.getAll());
  const one = (name, id) => stored(name, "readonly", (store) => store.get(id));
  const keep = (name, value) => stored(name, "readwrite", (store) => store.put(value));

  /** The key chosen last (made here or imported), or null. */
  async function currentKey() {
    const keys = await allOf("keys");
    keys.sort((a, b) => b.chosen - a.chosen);
    return keys[0] || null;
  }

  async function keepKey(key) {
    const entry = { did: S.didKey(key.publicKey), privateKey: key.privateKey, publicKey: key.publicKey, chosen: Date.now() };
    await keep("keys", entry);
    return entry;
  }

  // ---- The node's API.

  const hex = S.hex;
  const bearer = (token) => ({ Authorization: "Bearer " + token });

  async function expectOk(response) {
    if (!response.ok) throw new Error(S.refusal(response.status, await response.text()));
    return response;
  }

  async function getJson(path, token) {
    const response = await fetch(path, { headers: token ? bearer(token) : {}, cache: "no-store" });
    return (await expectOk(response)).json();
  }

  async function postJson(path, document, token) {
    const headers = Object.assign({ "Content-Type": "application/json" }, token ? bearer(token) : {});
    const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(document) });
    return (await expectOk(response)).json();
  }

  const versionPath = (dataset, version) => "/api/v1/datasets/" + encodeURIComponent(dataset) + "/versions/" + version;

  /** SHA-256 of a document's canonical form, `sha256:<hex>`, as receipts are named. */
  async function digestOf(document) {
    return "sha256:" + hex(await S.sha256(S.canonicalize(document)));
  }

  /** Hands bytes to the browser as a download named `name`. */
  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  /** An element with attributes and children (text children are set as text, never as markup). */
  function element(tag, attributes, ...children) {
    const made = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "onclick") made.addEventListener("click", value);
      else if (value !== false && value !== null && value !== undefined) made.setAttribute(name, value === true ? "" : value);
    }
    made.append(...children.filter((child) => child !== null && child !== undefined));
    return made;
  }

  /** A time as the pages show times: to the minute, UTC. */
  function shownTime(text) {
    return new Date(text).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  /** Runs `work`, showing a failure in `status` (a live region). */
  async function reporting(status, work) {
    try {
      await work();
    } catch (error) {
      status.textContent = texts.failed + (error && error.message ? error.message : String(error));
      status.classList.add("error");
    }
  }

  // ---- Ordering, from a licensed dataset's page.

  async function placeOrder(form) {
    const status = document.getElementById("order-status");
    status.classList.remove("error");
    status.textContent = texts.placing;
    const key = await buyerKey();
    const dataset = form.dataset.dataset;
    // An order taking up a demand's accepted answer names the demand and pays the answer's price.
    const demand = form.dataset.demand;
    const node = await getJson("/.well-known/shulian-node");
    const version = await getJson(versionPath(dataset, form.dataset.version));
    const offer = version.manifest.metadata.offer;
    const created = S.timestamp();
    const order = await S.signDocument(
      {
        ...(demand ? { demand } : {}),
        type: "ShulianOrder",
        node: node.id,
        dataset,
        version: version.version,
        manifestDigest: version.manifestDigest,
        purpose: form.elements.purpose.value,
        validityDays: Number(form.elements.validityDays.value),
        maxDownloads: Number(form.elements.maxDownloads.value),
        priceFen: demand ? Number(form.dataset.price) : offer.priceFen,
        licenseSha256: "sha256:" + hex(await S.sha256(offer.licenseText)),
        buyer: key.did,
        nonce: hex(crypto.getRandomValues(new Uint8Array(16))),
        created,
      },
      key,
      created,
    );
    const placed = await postJson("/api/v1/orders", order);
    await keep("orders", {
      orderId: placed.orderId,
      dataset,
      version: version.version,
      title: form.dataset.title,
      buyer: key.did,
      order,
      agreement: placed.agreement || null,
      state: placed.state,
      validUntil: placed.validUntil || null,
      token: placed.accessToken,
      acknowledgements: [],
      demand: demand || null,
      placedAt: created,
    });
    status.replaceChildren(
      placed.state === "AGREED" ? texts.agreed : texts.requested,
      " ",
      element("a", { href: "/orders", id: "see-orders" }, texts.seeOrders),
    );
  }

  // ---- The demand board: posting, and the poster's decisions.

  async function postDemand(form) {
    const status = document.getElementById("demand-status");
    status.classList.remove("error");
    status.textContent = texts.posting;
    const key = await buyerKey();
    const node = await getJson("/.well-known/shulian-node");
    const inLanguage = (text) => (text.trim() ? { [form.dataset.lang]: text.trim() } : {});
    const created = S.timestamp();
    const demand = await S.signDocument(
      {
        type: "ShulianDemand",
        node: node.id,
        kind: "demand",
        title: inLanguage(form.elements.title.value),
        description: inLanguage(form.elements.description.value),
        wanted: { fields: form.elements.fields.value.split(/[,，、]/).map((field) => field.trim()).filter(Boolean) },
        budgetFen: Math.round(Number(form.elements.budget.value) * 100),
        // The end of the chosen day, UTC.
        deadline: form.elements.deadline.value + "T23:59:59Z",
        contact: form.elements.contact.value.trim(),
        poster: key.did,
        nonce: hex(crypto.getRandomValues(new Uint8Array(16))),
        created,
      },
      key,
      created,
    );
    const posted = await postJson("/api/v1/demands", demand);
    location.assign("/demands/" + encodeURIComponent(posted.id));
  }

  /** The poster's acceptance of `answer`, or (without one) withdrawal, signed and sent. */
  async function decideDemand(actions, answer) {
    const key = await one("keys", actions.dataset.poster);
    if (!key) throw new Error(texts.keyMissing);
    const node = await getJson("/.well-known/shulian-node");
    const created = S.timestamp();
    const decision = await S.signDocument(
      {
        type: answer ? "ShulianDemandAcceptance" : "ShulianDemandWithdrawal",
        node: node.id,
        demand: actions.dataset.demand,
        ...(answer ? { answer } : {}),
        poster: key.did,
        created,
      },
      key,
      created,
    );
    await postJson("/api/v1/demands/" + encodeURIComponent(actions.dataset.demand) + "/decision", decision);
    location.reload();
  }

  /** On a demand's page, the poster's controls, where this browser holds the poster's key. */
  async function showPosterActions(actions) {
    if (!(await one("keys", actions.dataset.poster))) return;
    actions.hidden = false;
    const status = document.getElementById("demand-status");
    const withdraw = document.getElementById("withdraw-demand");
    if (withdraw) withdraw.addEventListener("click", () => reporting(status, () => decideDemand(actions, null)));
    if (actions.dataset.open !== "true") return;
    for (const button of document.querySelectorAll("button.accept-answer")) {
      button.hidden = false;
      button.addEventListener("click", () => reporting(status, () => decideDemand(actions, button.dataset.answer)));
    }
  }

  // ---- The orders page.

  async function showKey() {
    const key = await currentKey();
    document.getElementById("buyer-did").textContent = key ? key.did : texts.noKey;
    document.getElementById("save-key").disabled = !key;
  }

  /** Where the order stands now, its receipts and the files its version holds. */
  async function orderState(record) {
    const status = await getJson("/api/v1/orders/" + encodeURIComponent(record.orderId), record.token);
    record.state = status.state;
    record.validUntil = status.validUntil || null;
    if (status.agreement) record.agreement = status.agreement;
    await keep("orders", record);
    const receipts = await getJson("/api/v1/orders/" + encodeURIComponent(record.orderId) + "/receipts", record.token);
    const version = await getJson(versionPath(record.dataset, record.version));
    for (const item of receipts) item.digest = await digestOf(item.receipt);
    return { status, receipts, files: version.manifest.files };
  }

  async function download(record, file, status) {
    const path = versionPath(record.dataset, record.version) + "/files/" + file.name.split("/").map(encodeURIComponent).join("/");
    const response = await expectOk(await fetch(path, { headers: bearer(record.token), cache: "no-store" }));
    const bytes = await response.arrayBuffer();
    const digest = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
    if (digest !== file.sha256) throw new Error(texts.mismatch);
    save(new Blob([bytes], { type: file.mediaType }), file.name.split("/").pop());
    status.textContent = texts.downloaded + file.name;
  }

  async function acknowledge(record, item) {
    const key = await one("keys", record.buyer);
    if (!key) throw new Error(texts.keyMissing);
    const at = S.timestamp();
    const acknowledgement = await S.signDocument(
      {
        type: "ShulianReceiptAcknowledgement",
        order: record.orderId,
        receiptDigest: item.digest,
        receiptLogIndex: item.logIndex,
        recipient: record.buyer,
        acknowledged: at,
      },
      key,
      at,
    );
    await postJson("/api/v1/orders/" + encodeURIComponent(record.orderId) + "/acknowledgements", acknowledgement, record.token);
    record.acknowledgements.push(acknowledgement);
    await keep("orders", record);
  }

  /** The bundle `shulian verify` checks: every receipt with its proof under one checkpoint. */
  async function evidence(record) {
    const node = await getJson("/.well-known/shulian-node");
    const receipts = await getJson("/api/v1/orders/" + encodeURIComponent(record.orderId) + "/receipts", record.token);
    // Read after the receipts, so the tree it signs holds every one of them.
    const checkpoint = await (await expectOk(await fetch("/api/v1/log/checkpoint", { cache: "no-store" }))).text();
    const size = Number(checkpoint.split("\n")[1]);
    const logged = [];
    for (const item of receipts) {
      const proof = await getJson("/api/v1/log/proof/inclusion?index=" + item.logIndex + "&size=" + size);
      logged.push({ logIndex: item.logIndex, receipt: item.receipt, inclusionProof: proof.proof });
    }
    const bundle = {
      node: node.id,
      logOrigin: node.log.origin,
      order: record.order,
      agreement: record.agreement,
      receipts: logged,
      acknowledgements: record.acknowledgements,
      checkpoint,
    };
    save(new Blob([JSON.stringify(bundle, null, 2)], { type: "application/json" }), "evidence.json");
  }

  /** Fills `card` with where `record` stands, and its actions. */
  async function showOrder(card, record) {
    const message = element("p", { role: "status", "aria-live": "polite", class: "order-message" });
    const again = () => reporting(message, () => showOrder(card, record));
    const { status, receipts, files } = await orderState(record);
    const agreed = status.state === "AGREED";
    const fileItems = files.map((file) => {
      const used = receipts.filter((item) => item.receipt.file === file.name).length;
      const left = Math.max(0, status.maxDownloads - used);
      return element(
        "li",
        {},
        element("span", { class: "file-name" }, file.name),
        " · " + texts.downloadsLeft + ": " + left + " ",
        element(
          "button",
          {
            type: "button",
            class: "download",
            "data-file": file.name,
            disabled: !agreed || left === 0,
            "aria-label": texts.download + " " + file.name,
            onclick: () => reporting(message, async () => {
              await download(record, file, message);
              await showOrder(card, record);
              card.querySelector(".order-message").textContent = texts.downloaded + file.name;
            }),
          },
          texts.download,
        ),
      );
    });
    const receiptItems = receipts.map((item) => {
      const done = record.acknowledgements.some((ack) => ack.receiptDigest === item.digest);
      return element(
        "li",
        { "data-log-index": item.logIndex },
        item.receipt.file + " · " + texts.logIndex + " " + item.logIndex + " · " + (item.receipt.delivered || "") + " ",
        done
          ? element("span", { class: "acknowledged" }, texts.acknowledged)
          : element(
              "button",
              {
                type: "button",
                class: "acknowledge",
                "aria-label": texts.acknowledge + " " + item.receipt.file + " " + item.logIndex,
                onclick: () => reporting(message, async () => {
                  await acknowledge(record, item);
                  await showOrder(card, record);
                }),
              },
              texts.acknowledge,
            ),
      );
    });
    card.replaceChildren(
      element("h2", {}, element("a", { href: "/datasets/" + encodeURIComponent(record.dataset) + "?version=" + record.version }, record.title || record.dataset)),
      element(
        "p",
        { class: "meta" },
        element("span", { class: "state", "data-state": status.state }, texts[status.state] || status.state),
        " · " + texts.version + " " + record.version,
        status.validUntil ? " · " + texts.validUntil + " " + shownTime(status.validUntil) : "",
        " · " + texts.order + " ",
        element("code", {}, record.orderId),
        record.demand ? " · " : null,
        record.demand ? element("a", { href: "/demands/" + encodeURIComponent(record.demand), class: "demand" }, texts.demand) : null,
      ),
      element("h3", {}, texts.files),
      element("ul", { class: "order-files" }, ...fileItems),
      element("h3", {}, texts.receipts),
      receiptItems.length ? element("ul", { class: "receipts" }, ...receiptItems) : element("p", { class: "meta" }, texts.noReceipts),
      element(
        "p",
        {},
        element(
          "button",
          { type: "button", class: "evidence", disabled: !record.agreement || receipts.length === 0, onclick: () => reporting(message, () => evidence(record)) },
          texts.evidence,
        ),
        " ",
        element("button", { type: "button", class: "refresh", onclick: again }, texts.refresh),
      ),
      message,
    );
  }

  async function showOrders() {
    const list = document.getElementById("orders");
    const records = await allOf("orders");
    records.sort((a, b) => (a.placedAt < b.placedAt ? 1 : -1));
    document.getElementById("no-orders").hidden = records.length > 0;
    for (const record of records) {
      const card = element("article", { class: "card order", "data-order": record.orderId });
      list.append(card);
      const message = element("p", { role: "status", class: "order-message" });
      card.append(message);
      reporting(message, () => showOrder(card, record));
    }
  }

  function wireKeyControls() {
    const status = document.getElementById("key-status");
    document.getElementById("save-key").addEventListener("click", () =>
      reporting(status, async () => {
        const key = await currentKey();
        const file = await S.exportKeyFile(key);
        save(new Blob([JSON.stringify(file, null, 2)], { type: "application/json" }), "buyer-key.json");
      }),
    );
    document.getElementById("import-key").addEventListener("change", (event) =>
      reporting(status, async () => {
        const chosen = event.target.files[0];
        if (!chosen) return;
        const key = await keepKey(await S.importKeyFile(JSON.parse(await chosen.text())));
        event.target.value = "";
        status.classList.remove("error");
        status.textContent = texts.keyImported + key.did;
        await showKey();
      }),
    );
  }

  /** Whether this browser signs with Ed25519 and keeps keys (older browsers do not). */
  async function canSign() {
    if (!window.indexedDB || !window.crypto || !crypto.subtle) return false;
    try {
      await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign"]);
      return true;
    } catch (error) {
      return false;
    }
  }

  /** The buyer's key (made now if this browser has none): a provider answering a demand
   *  from the console signs with it too. */
  async function buyerKey() {
    return (await currentKey()) || keepKey(await S.generateKey());
  }
  window.shulianMarket = Object.freeze({ buyerKey });

  canSign().then((able) => {
    if (!able) return;
    const unavailable = document.getElementById("order-unavailable");
    if (unavailable) unavailable.hidden = true;
    const form = document.getElementById("order-form");
    if (form) {
      form.hidden = false;
      const submit = document.getElementById("order-submit");
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        // One order per press: a second press while signing would place a second order.
        if (submit.disabled) return;
        submit.disabled = true;
        reporting(document.getElementById("order-status"), () => placeOrder(form)).finally(() => {
          submit.disabled = false;
        });
      });
    }
    const demandForm = document.getElementById("demand-form");
    if (demandForm) {
      demandForm.hidden = false;
      const submit = document.getElementById("demand-submit");
      demandForm.addEventListener("submit", (event) => {
        event.preventDefault();
        if (submit.disabled) return;
        submit.disabled = true;
        reporting(document.getElementById("demand-status"), () => postDemand(demandForm)).finally(() => {
          submit.disabled = false;
        });
      });
    }
    const posterActions = document.getElementById("poster-actions");
    if (posterActions) showPosterActions(posterActions);
    if (document.getElementById("orders")) {
      wireKeyControls();
      reporting(document.getElementById("key-status"), showKey);
      showOrders();
    }
  });
})();

// A Server-Sent Events reader over fetch(), so the bearer token goes in the Authorization
// header (EventSource cannot send headers, and a token in a URL ends up in logs).

/**
 * Incremental parser of the text/event-stream format (WHATWG HTML § 9.2.6).
 * feed(chunk) returns the complete events in the chunk: {event, data, id}.
 */
export class SSEParser {
  constructor() {
    this.buffer = '';
    this.reset();
    this.lastId = '';
  }

  reset() {
    this.event = '';
    this.data = [];
  }

  feed(chunk) {
    this.buffer += chunk;
    const out = [];
    let nl;
    while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      const sep = this.buffer[nl] === '\r' && this.buffer[nl + 1] === '\n' ? 2 : 1;
      if (this.buffer[nl] === '\r' && nl + 1 === this.buffer.length) break; // wait for a \n
      this.buffer = this.buffer.slice(nl + sep);
      if (line === '') {
        if (this.data.length) {
          out.push({ event: this.event || 'message', data: this.data.join('\n'), id: this.lastId });
        }
        this.reset();
        continue;
      }
      if (line.startsWith(':')) continue; // comment / keep-alive
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
      else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    }
    return out;
  }
}

/**
 * Keep a stream open: connect, read, and reconnect with back-off when it drops.
 * onEvent(name, parsedData) for each event; onState('connecting'|'live'|'reconnecting'|'off').
 * authFetch(path, init) must add the Authorization header and handle 401.
 * Returns {stop()}.
 */
export function openStream(path, { authFetch, onEvent, onState }) {
  let stopped = false;
  let controller = null;
  let delay = 1000;
  let lastId = '';

  async function run() {
    while (!stopped) {
      onState(lastId ? 'reconnecting' : 'connecting');
      controller = new AbortController();
      try {
        const headers = { Accept: 'text/event-stream' };
        if (lastId) headers['Last-Event-ID'] = lastId;
        const response = await authFetch(path, { headers, signal: controller.signal });
        if (!response.ok || !response.body) throw new Error(`stream: HTTP ${response.status}`);
        onState('live');
        delay = 1000;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new SSEParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const ev of parser.feed(value)) {
            if (ev.id) lastId = ev.id;
            let data = ev.data;
            try { data = JSON.parse(ev.data); } catch { /* keep the text */ }
            onEvent(ev.event, data);
          }
        }
      } catch (err) {
        if (stopped || (err && err.name === 'AbortError')) break;
        if (err && err.unauthorized) { stopped = true; break; }
      }
      if (stopped) break;
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30000);
    }
    onState('off');
  }

  run();
  return {
    stop() {
      stopped = true;
      if (controller) controller.abort();
    },
  };
}

'use strict'
// jspurefix (an independent TypeScript FIX engine) as ceguard's matching engine and firms.
//
//   node peer.js CONFIG.json
//
// CONFIG names the acceptor (host, port), the sessions to start (each an initiator:
// name, BeginString, SenderCompID, TargetCompID, jspurefix dictionary, optional Logon
// extras) and the JSON-lines file to write. Commands arrive on stdin, one JSON object a
// line, so a test drives the phases itself:
//   {"cmd": "send", "session": NAME, "messages": [{"msgType": "8", "body": {...}}]}
//   {"cmd": "lose", "session": NAME, "count": N}  N messages lost on the wire: the next
//                                                 MsgSeqNum is N higher
//   {"cmd": "stop"}                               log every session out, then exit
// Every session checks what it receives against its own dictionary (jspurefix does so
// only on acceptors unless told: checkMsgIntegrity), answering a failure with a
// session Reject (35=3). The output file gets one line per event:
//   ready, received (every message decoded off the wire), application (an application
//   message that passed the dictionary check, as jspurefix's object), sent (every
//   message jspurefix encoded: fills, its Rejects, its gap fills), stopped, error.
// The stock QuickFIX-format dictionaries (qf44: data/FIX44.xml, qf50sp2) are used as
// they ship; nothing here adds fields to them.

require('reflect-metadata')
const fs = require('fs')
const readline = require('readline')
const {
  AsciiSession, SessionLauncher, JsFixWinstonLogFactory, WinstonLogger
} = require('jspurefix')

const STOP_TIMEOUT_MS = 20000
const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const out = fs.openSync(config.out, 'a')
const logFactory = new JsFixWinstonLogFactory(WinstonLogger.consoleOptions('info'))
const sessions = new Map() // name -> PeerSession, once created
const runs = []

function record (event) {
  fs.writeSync(out, JSON.stringify({ at: new Date().toISOString(), ...event }) + '\n')
}

// A message's fields as {tag: value}, the first value of each tag (SOH or '|' between).
function fieldsOf (text) {
  const fields = {}
  for (const part of text.split(/[\x01|]/)) {
    const at = part.indexOf('=')
    if (at > 0 && !(part.slice(0, at) in fields)) fields[part.slice(0, at)] = part.slice(at + 1)
  }
  return fields
}

class PeerSession extends AsciiSession {
  constructor (jsfixConfig, name) {
    super(jsfixConfig)
    this.name = name
    this.checkMsgIntegrity = true // validate inbound in our dictionary, initiator or not
    sessions.set(name, this)
  }

  onDecoded (msgType, text) {
    this.recordMessage('received', msgType, text)
  }

  onEncoded (msgType, text) {
    this.recordMessage('sent', msgType, text)
  }

  recordMessage (event, msgType, text) {
    const fields = fieldsOf(text)
    record({ event, session: this.name, msgType, fields, text: text.replace(/\x01/g, '|') })
  }

  onApplicationMsg (msgType, view) {
    record({ event: 'application', session: this.name, msgType, object: view.toObject() })
  }

  onLogon () {
    return true
  }

  onReady () {
    record({ event: 'ready', session: this.name })
  }

  onStopped (error) {
    record({ event: 'stopped', session: this.name, error: error ? error.message : null })
  }

  // ISO times in a test's JSON become Dates, which jspurefix encodes as UTCTIMESTAMP.
  sendAll (messages) {
    for (const { msgType, body } of messages) {
      const object = { ...body }
      for (const key of ['TransactTime', 'SendingTime']) {
        if (typeof object[key] === 'string') object[key] = new Date(object[key])
      }
      this.send(msgType, object, (error) => {
        if (error) record({ event: 'error', session: this.name, error: error.message })
      })
    }
  }

  // Messages "sent" while the line was down: numbers used, bytes never delivered. The
  // session's resend store is empty, so a ResendRequest for them gets jspurefix's
  // default answer, a SequenceReset-GapFill.
  lose (count) {
    this.transport.transmitter.msgSeqNum += count // the encoder's next MsgSeqNum
  }
}

class PeerLauncher extends SessionLauncher {
  constructor (description) {
    super(description, null, logFactory)
  }

  makeFactory () {
    const name = this.initiatorConfig.application.name
    return { makeSession: (jsfixConfig) => new PeerSession(jsfixConfig, name) }
  }
}

function description (session) {
  return {
    application: {
      type: 'initiator',
      name: session.name,
      reconnectSeconds: 1,
      tcp: { host: config.host, port: config.port },
      protocol: 'ascii',
      dictionary: session.dictionary
    },
    BeginString: session.begin,
    SenderCompId: session.sender,
    TargetCompID: session.target,
    HeartBtInt: 30,
    ResetSeqNumFlag: false,
    LastSentSeqNum: 0,
    LastReceivedSeqNum: 0,
    ...(session.logon ? { Logon: session.logon } : {})
  }
}

function command (line) {
  const request = JSON.parse(line)
  const session = sessions.get(request.session)
  if (request.cmd === 'stop') return stop()
  if (!session) throw new Error(`no session ${request.session} (sessions: ${[...sessions.keys()]})`)
  if (request.cmd === 'send') session.sendAll(request.messages)
  else if (request.cmd === 'lose') session.lose(request.count)
  else throw new Error(`unknown command ${request.cmd}`)
}

function stop () {
  for (const session of sessions.values()) session.done()
  setTimeout(() => {
    record({ event: 'error', error: `sessions not logged out within ${STOP_TIMEOUT_MS} ms` })
    process.exit(1)
  }, STOP_TIMEOUT_MS).unref()
}

for (const session of config.sessions) {
  runs.push(new PeerLauncher(description(session)).run())
}
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  try {
    command(line)
  } catch (error) {
    record({ event: 'error', error: `command ${line}: ${error.message}` })
  }
})
Promise.all(runs).then(() => {
  record({ event: 'exit' })
  process.exit(0)
}).catch((error) => {
  record({ event: 'error', error: error.message })
  process.exit(1)
})

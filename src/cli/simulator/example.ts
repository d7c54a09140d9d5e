/**
 * The message the simulator uses without `--message`: an OMEMO 2 (`urn:xmpp:omemo:2`) chat message
 * from Romeo to Juliet as her server holds it for her offline phone. The key and payload bytes are
 * synthetic (well-formed base64, not a real Signal session), like test/vectors/omemo-push.json. Two of
 * Juliet's devices have a key: 1325 (a key exchange) and 4223; Romeo sent it from his device 27183 and
 * encrypted it for his other device 9001 too.
 * @see https://xmpp.org/extensions/xep-0384.html#message-structure-description
 */
export const EXAMPLE_OMEMO_MESSAGE = `<message xmlns='jabber:client' to='juliet@capulet.example' from='romeo@montague.example/orchard' id='sim-omemo-1' type='chat'>
  <encrypted xmlns='urn:xmpp:omemo:2'>
    <header sid='27183'>
      <keys jid='juliet@capulet.example'>
        <key kex='true' rid='1325'>RvzUmWsP0hMUEO/TS6ThW8ukRry6lHydc+ADEP/Z82I+IHKjZyAQ4GPf7FRdRFD+H6O5JOifgIJApzbZeQfzmHfbguRQnlOuzhoRwfq9iI9Nf6zD3XSgNxjodYkg0Cz/07WHSNJVMuZdDJIjjZo=</key>
        <key rid='4223'>lS9tnLIYHybT51Hi9NDti7w7eRDs4CSfbh8LN2diWJj+FIJjpjeu9KORzzVhF2JbSsK/chcYdgpsqKW0/2tjXhv+kEiq0gZqYvAiGwwIUh8TnwX1a4zEF97gDvcj/BsyL4O/7O8dk8Wk6pyzTgE=</key>
      </keys>
      <keys jid='romeo@montague.example'>
        <key rid='9001'>fIecVoM1PRustzlRUH+wqMvD7XAbtFRC+M5+hhJ+ln63v1MjZ2zy1fsSpCWcoTCYtWtA2hqw9c/9iv7M03yEZJGjb/7GThTOWNsLVUZgLYKplrzciUP7BhVF64AwexfSHkzO/ThYqmorPQI8eio=</key>
      </keys>
    </header>
    <payload>okTiTff3fSpDtOQyCr5PCSsueMEg/Kmxm3GUVUT82hDMIKnc0qKTlo89Vxh3ig0xjuYOwqpD5F+9bbu/BcGwyA==</payload>
  </encrypted>
  <body>This message is encrypted with OMEMO 2; your client does not seem to support that.</body>
  <encryption xmlns='urn:xmpp:eme:0' namespace='urn:xmpp:omemo:2'/>
  <store xmlns='urn:xmpp:hints'/>
</message>
`;

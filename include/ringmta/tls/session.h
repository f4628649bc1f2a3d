// One TLS connection, sans I/O: ciphertext from the peer goes in with put_input(),
// ciphertext for the peer comes out with take_output(); the caller (an ingress or
// delivery coroutine) moves those bytes over its socket on the ring. wolfSSL runs
// on memory buffers through custom I/O callbacks and never touches a socket.
// Contract: no exceptions, no I/O, bounded input (input_bytes_max; the caller puts
// at most input_room() bytes and drives handshake()/read() after each put). After
// `failed`, take_output() may still hold an alert worth sending before closing.
// Shard: the one that owns the connection; a session is never shared or moved.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "ringmta/tls/context.h"

struct WOLFSSL;  // wolfSSL's type, kept out of this header

namespace ringmta::tls {

struct session_callbacks;  // wolfSSL's I/O and verify callbacks (src/tls/session_callbacks.h)

class session {
public:
    enum class status {
        done,        // handshake complete / plaintext appended / write encrypted
        want_input,  // nothing more to do until the peer's bytes arrive (take output first)
        closed,      // read/write: the peer sent close_notify (in a handshake: failed)
        failed,      // fatal: error_text() says why; send pending output, then close
    };

    // Largest TLS record on the wire: header + 2^14 plaintext + TLS 1.2's worst expansion.
    static constexpr std::size_t record_bytes_max = 5 + 16384 + 2048;
    // Unconsumed input held at most: one 64 KiB socket read on top of a partial record.
    static constexpr std::size_t input_bytes_max = 64 * 1024 + record_bytes_max;

    // Client: peer_name is the SNI to send (not for IP literals) and, with
    // verify_mode::chain_and_name, the name the certificate must carry.
    // Server: pass "". The session copies what it needs: it may outlive `ctx`.
    session(context& ctx, std::string_view peer_name);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    // Room left for put_input(); 0 means: drive handshake()/read() before receiving more.
    std::size_t input_room() const;
    // Ciphertext received from the peer. Putting more than input_room() is a caller
    // bug (assert): a caller that drives the session after every put never gets there.
    void put_input(std::string_view ciphertext);

    // Moves the ciphertext produced so far to the end of `out` (O(1) when out is empty).
    void take_output(std::string& out);
    bool wants_output() const { return !_output.empty(); }
    std::size_t output_bytes() const { return _output.size(); }

    // Drives the handshake as far as the input allows: done, want_input or failed.
    status handshake();
    bool established() const { return _phase == phase::established; }

    // Encrypts all of `plaintext` into the output (records of at most 16 KiB): done or
    // failed; closed once the peer has closed. Only after the handshake (assert).
    status write(std::string_view plaintext);
    // Appends every byte of plaintext decryptable from the input now: done if any was
    // appended, want_input if none, closed after the peer's close_notify (plaintext
    // before it was appended first), failed on a bad record. Only after the handshake.
    status read(std::string& plaintext_out);
    // Queues our close_notify once (established or closed sessions; else no effect).
    void shutdown();

    role side() const { return _side; }
    std::string_view version() const;      // "TLSv1.3", "TLSv1.2"; "" before the handshake
    std::string_view cipher() const;       // IANA name "TLS_AES_128_GCM_SHA256"; "" before
    std::string_view key_exchange() const;  // group: "X25519", "SECP256R1"; "" if unknown
    // SNI host name: client: the one given; server: the one the client sent ("" if none).
    std::string_view server_name() const { return _server_name; }
    // Why the session failed, with wolfSSL's reason: "certificate verify failed: ...".
    std::string_view error_text() const { return _error; }
    // Client, after the handshake: the chain verified against the context's trust
    // anchors (and the name matched with chain_and_name). Server: always false.
    bool peer_verified() const;

private:
    enum class phase { handshaking, established, closed, failed };
    friend struct session_callbacks;

    status after_error(int ret);
    void fail_with_text(std::string text);

    WOLFSSL* _ssl = nullptr;
    role _side;
    verify_mode _verify;
    bool _has_trust_anchors;
    phase _phase = phase::handshaking;
    bool _shutdown_sent = false;
    std::string _server_name;
    std::string _input;
    std::size_t _input_consumed_bytes = 0;  // prefix of _input wolfSSL has read
    std::string _output;
    std::string _error;
    int _verify_error = 0;  // first certificate error seen (X509_V_ERR or wolfSSL), 0 = none
    int _verify_error_depth = -1;
    bool _peer_cert_checked = false;  // the verify callback ran for the leaf
};

}  // namespace ringmta::tls

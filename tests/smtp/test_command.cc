// Tests of command line parsing: verbs, MAIL/RCPT paths and parameters, mailboxes.
#include <doctest/doctest.h>

#include <string>

#include "ringmta/smtp/command.h"

using namespace ringmta::smtp;

namespace {

std::optional<path_error> mail(std::string_view argument, std::string& mailbox) {
    mail_params params;
    return parse_mail(argument, mailbox, params);
}

std::optional<path_error> rcpt(std::string_view argument, std::string& mailbox) {
    rcpt_params params;
    return parse_rcpt(argument, mailbox, params);
}

}  // namespace

TEST_CASE("parse_command recognizes verbs case-insensitively and splits the argument") {
    command c = parse_command("MAIL FROM:<a@b.example> SIZE=10");
    CHECK(c.verb == verb::mail);
    CHECK(c.argument == "FROM:<a@b.example> SIZE=10");
    c = parse_command("rcpt TO:<x@y.example>");
    CHECK(c.verb == verb::rcpt);
    CHECK(c.argument == "TO:<x@y.example>");
    CHECK(parse_command("eHlO client.example").verb == verb::ehlo);
    CHECK(parse_command("eHlO client.example").argument == "client.example");
    CHECK(parse_command("DATA").verb == verb::data);
    CHECK(parse_command("DATA").argument.empty());
    CHECK(parse_command("QUIT   ").argument.empty());
    CHECK(parse_command("starttls").verb == verb::starttls);
    CHECK(parse_command("Bdat 100 LAST").verb == verb::bdat);
    CHECK(parse_command("AUTH PLAIN").verb == verb::auth);
    CHECK(parse_command("MAILX FROM:<a@b>").verb == verb::unknown);
    CHECK(parse_command("MAIL:FROM").verb == verb::unknown);
    CHECK(parse_command("").verb == verb::unknown);
    CHECK(parse_command("HEL").verb == verb::unknown);
}

TEST_CASE("parse_mail accepts paths with parameters, case-insensitive keywords") {
    std::string mailbox;
    mail_params params;
    auto error = parse_mail("FROM:<bounce+x=y@news.example.com> size=12345 BODY=8bitmime "
                            "SMTPUTF8 RET=hdrs ENVID=QQ314159+2B",
                            mailbox, params);
    REQUIRE_FALSE(error);
    CHECK(mailbox == "bounce+x=y@news.example.com");
    CHECK(params.size_given);
    CHECK(params.size == 12345u);
    CHECK(params.body == mail_params::body_type::eight_bit_mime);
    CHECK(params.smtputf8);
    CHECK(params.ret == "HDRS");
    CHECK(params.envid == "QQ314159+2B");
    // Postfix tolerates a space after the colon; so do we.
    REQUIRE_FALSE(parse_mail("from: <a@b.example>", mailbox, params));
    CHECK(mailbox == "a@b.example");
    CHECK_FALSE(params.size_given);
    REQUIRE_FALSE(parse_mail("FROM:<a@b.example> BODY=BINARYMIME", mailbox, params));
    CHECK(params.body == mail_params::body_type::binary_mime);
    REQUIRE_FALSE(parse_mail("FROM:<a@b.example> SIZE=99999999999999999999", mailbox, params));
    CHECK(params.size == UINT64_MAX);
    // RFC 4954 section 5: AUTH=<> or an xtext mailbox, kept as sent.
    REQUIRE_FALSE(parse_mail("FROM:<a@b.example> auth=<>", mailbox, params));
    CHECK(params.auth == "<>");
    REQUIRE_FALSE(parse_mail("FROM:<a@b.example> AUTH=e+2Bf@b.example", mailbox, params));
    CHECK(params.auth == "e+2Bf@b.example");
}

TEST_CASE("null sender is allowed for MAIL only; postmaster is allowed for RCPT") {
    std::string mailbox = "junk";
    mail_params params;
    REQUIRE_FALSE(parse_mail("FROM:<> SIZE=10", mailbox, params));
    CHECK(mailbox.empty());
    CHECK(params.size == 10u);
    auto error = rcpt("TO:<>", mailbox);
    REQUIRE(error);
    CHECK(error->code == 501);
    CHECK(error->enhanced == "5.1.3");
    REQUIRE_FALSE(rcpt("TO:<PostMaster>", mailbox));
    CHECK(mailbox == "postmaster");
    REQUIRE(rcpt("TO:<someone>", mailbox));
}

TEST_CASE("parse_mail and parse_rcpt reject bad syntax with the right codes") {
    std::string mailbox;
    auto code_of = [&](std::optional<path_error> e) { return e ? e->code : 0; };
    auto enhanced_of = [&](std::optional<path_error> e) {
        return e ? std::string(e->enhanced) : std::string();
    };
    CHECK(enhanced_of(mail("<a@b.example>", mailbox)) == "5.5.4");
    CHECK(code_of(mail("TO:<a@b.example>", mailbox)) == 501);
    CHECK(enhanced_of(mail("FROM:a@b.example", mailbox)) == "5.1.7");
    CHECK(enhanced_of(mail("FROM:<a@b.example", mailbox)) == "5.1.7");
    CHECK(enhanced_of(mail("FROM:<a@b.example>x", mailbox)) == "5.1.7");
    CHECK(enhanced_of(mail("FROM:<a@@b.example>", mailbox)) == "5.1.7");
    CHECK(enhanced_of(mail("FROM:<a..b@example.com>", mailbox)) == "5.1.7");
    CHECK(enhanced_of(mail("FROM:<a@-example.com>", mailbox)) == "5.1.7");
    CHECK(enhanced_of(mail("FROM:<a@example.com.>", mailbox)) == "5.1.7");
    CHECK(enhanced_of(rcpt("TO:<a b@example.com>", mailbox)) == "5.1.3");
    CHECK(enhanced_of(rcpt("FROM:<a@example.com>", mailbox)) == "5.5.4");
    CHECK(code_of(mail("FROM:<a@b.example> FOO=BAR", mailbox)) == 555);
    CHECK(code_of(mail("FROM:<a@b.example> AUTH=a+4", mailbox)) == 501);  // bad xtext
    CHECK(code_of(mail("FROM:<a@b.example> AUTH=", mailbox)) == 501);
    CHECK(code_of(mail("FROM:<a@b.example> SIZE=12k", mailbox)) == 501);
    CHECK(code_of(mail("FROM:<a@b.example> SIZE=", mailbox)) == 501);
    CHECK(code_of(mail("FROM:<a@b.example> BODY=9BIT", mailbox)) == 501);
    CHECK(code_of(mail("FROM:<a@b.example> SMTPUTF8=yes", mailbox)) == 501);
    CHECK(code_of(mail("FROM:<a@b.example> RET=ALL", mailbox)) == 501);
    CHECK(code_of(mail("FROM:<a@b.example> ENVID=a+zz", mailbox)) == 501);
    CHECK(code_of(mail("FROM:<a@b.example> SIZE=1 SIZE=2", mailbox)) == 501);
    CHECK(code_of(rcpt("TO:<a@b.example> NOTIFY=SOMETIMES", mailbox)) == 501);
    CHECK(code_of(rcpt("TO:<a@b.example> NOTIFY=NEVER,DELAY", mailbox)) == 501);
    CHECK(code_of(rcpt("TO:<a@b.example> ORCPT=nosemicolon", mailbox)) == 501);
    CHECK(code_of(rcpt("TO:<a@b.example> XFOO", mailbox)) == 555);
}

TEST_CASE("parse_rcpt reads DSN parameters") {
    std::string mailbox;
    rcpt_params params;
    REQUIRE_FALSE(parse_rcpt("TO:<u@d.example> notify=success,failure "
                             "ORCPT=rfc822;u+40d.example",
                             mailbox, params));
    CHECK(params.notify == "SUCCESS,FAILURE");
    CHECK(params.orcpt == "rfc822;u+40d.example");
    REQUIRE_FALSE(parse_rcpt("TO:<u@d.example> NOTIFY=never", mailbox, params));
    CHECK(params.notify == "NEVER");
    CHECK(params.orcpt.empty());
}

TEST_CASE("source routes are accepted and dropped") {
    std::string mailbox;
    REQUIRE_FALSE(mail("FROM:<@relay1.example,@[192.0.2.1]:user@c.example>", mailbox));
    CHECK(mailbox == "user@c.example");
    REQUIRE_FALSE(rcpt("TO:<@hop.example:joe@d.example> NOTIFY=NEVER", mailbox));
    CHECK(mailbox == "joe@d.example");
    CHECK(rcpt("TO:<@hop.example joe@d.example>", mailbox));
    CHECK(rcpt("TO:<@:joe@d.example>", mailbox));
    CHECK(rcpt("TO:<@hop.example,relay:joe@d.example>", mailbox));
    CHECK(mail("FROM:<@hop.example:>", mailbox));
}

TEST_CASE("valid_mailbox follows RFC 5321 4.1.2 and the length limits") {
    CHECK(valid_mailbox("user@example.com"));
    CHECK(valid_mailbox("first.last+tag@sub.example.co.uk"));
    CHECK(valid_mailbox("!#$%&'*+-/=?^_`{|}~@x.example"));
    CHECK(valid_mailbox("\"john doe\"@example.com"));
    CHECK(valid_mailbox("\"a\\\"b@c\"@example.com"));
    CHECK(valid_mailbox("user@[192.0.2.25]"));
    CHECK(valid_mailbox("user@[IPv6:2001:db8::1]"));
    CHECK(valid_mailbox("user@[IPv6:2001:db8:0:0:0:0:0:1]"));
    CHECK(valid_mailbox("user@[IPv6:::ffff:192.0.2.1]"));
    CHECK(valid_mailbox("user@[x-tag:opaque]"));
    CHECK(valid_mailbox("j\xc3\xb6rg@m\xc3\xbcller.example"));  // UTF-8 (SMTPUTF8)

    CHECK_FALSE(valid_mailbox(""));
    CHECK_FALSE(valid_mailbox("user"));
    CHECK_FALSE(valid_mailbox("@example.com"));
    CHECK_FALSE(valid_mailbox("user@"));
    CHECK_FALSE(valid_mailbox(".user@example.com"));
    CHECK_FALSE(valid_mailbox("user.@example.com"));
    CHECK_FALSE(valid_mailbox("us(er@example.com"));
    CHECK_FALSE(valid_mailbox("\"unterminated@example.com"));
    CHECK_FALSE(valid_mailbox("user@exa_mple.com"));
    CHECK_FALSE(valid_mailbox("user@example..com"));
    CHECK_FALSE(valid_mailbox("user@[192.0.2.256]"));
    CHECK_FALSE(valid_mailbox("user@[192.0.2]"));
    CHECK_FALSE(valid_mailbox("user@[IPv6:2001:db8::1::2]"));
    CHECK_FALSE(valid_mailbox("user@[IPv6:1:2:3:4:5:6:7]"));
    CHECK_FALSE(valid_mailbox("user@[IPv6:1:2:3:4:5:6:7::8]"));
    CHECK_FALSE(valid_mailbox("j\xc3rg@example.com"));      // truncated UTF-8
    CHECK_FALSE(valid_mailbox("j\xc0\xafrg@example.com"));  // overlong UTF-8
}

TEST_CASE("overlong local parts, labels, domains and paths are refused") {
    const std::string local64(64, 'l');
    CHECK(valid_mailbox(local64 + "@example.com"));
    CHECK_FALSE(valid_mailbox(local64 + "l@example.com"));
    const std::string label63(63, 'd');
    CHECK(valid_mailbox("u@" + label63 + ".example"));
    CHECK_FALSE(valid_mailbox("u@" + label63 + "d.example"));
    // 4 labels of 63 plus dots = 255 octets: longest domain, but the path limit of 256
    // (with <>) leaves room for at most 254 octets of mailbox.
    std::string domain = label63 + "." + label63 + "." + label63 + "." + label63;
    CHECK(domain.size() == 255);
    CHECK_FALSE(valid_mailbox("u@" + domain));
    std::string mailbox;
    const std::string long_path = "u@" + std::string(63, 'a') + "." + std::string(63, 'b') +
                                  "." + std::string(63, 'c') + "." + std::string(60, 'd');
    CHECK(long_path.size() == 254);
    CHECK_FALSE(mail("FROM:<" + long_path + ">", mailbox));
    CHECK(mail("FROM:<x" + long_path + ">", mailbox));
    CHECK(rcpt("TO:<x" + long_path + ">", mailbox));
}

TEST_CASE("domain_of returns the part after the last @") {
    CHECK(domain_of("user@example.com") == "example.com");
    CHECK(domain_of("\"a@b\"@example.org") == "example.org");
    CHECK(domain_of("postmaster").empty());
    CHECK(domain_of("").empty());
}

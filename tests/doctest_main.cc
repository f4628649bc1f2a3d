// Shared main for every doctest unit-test program. It runs doctest as usual and
// ends with the plain line "N passed, N failed" (test cases), which tools/dev
// adds up across programs into the suite's closing summary.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

namespace {

struct summary_listener final : doctest::IReporter {
    explicit summary_listener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& stats) override {
        unsigned failed = stats.numTestCasesFailed;
        unsigned passed = stats.numTestCasesPassingFilters - failed;
        std::printf("%u passed, %u failed\n", passed, failed);
        std::fflush(stdout);
    }
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("summary", 1, summary_listener);

int main(int argc, char** argv) {
    doctest::Context context;
    context.applyCommandLine(argc, argv);
    return context.run();
}

// Helpers for the config tests: a temporary directory removed at the end of the
// test, and the what() of the config_error a document raises.
#pragma once

#include <ringmta/config/config.h>

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ringmta::config::testing {

class temp_dir {
public:
    temp_dir() {
        std::string pattern = "/tmp/ringmta-config-test-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        _path = pattern;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        for (const std::string& file : _files) ::unlink(file.c_str());
        ::rmdir(_path.c_str());
    }

    const std::string& path() const { return _path; }

    // Writes a file in the directory and returns its path.
    std::string write(const std::string& name, std::string_view content) {
        std::string file = _path + "/" + name;
        std::ofstream out(file, std::ios::binary);
        out << content;
        _files.push_back(file);
        return file;
    }

private:
    std::string _path;
    std::vector<std::string> _files;
};

// The error message a document raises, or "(no error)".
inline std::string load_error(std::string_view toml_text,
                              std::string_view source_name = "ringmta.toml") {
    try {
        load_string(toml_text, source_name);
    } catch (const config_error& error) {
        return error.what();
    }
    return "(no error)";
}

// The message of a config_error thrown by a parse_* function, or "(no error)".
template <class Parse>
std::string parse_error(Parse parse) {
    try {
        parse();
    } catch (const config_error& error) {
        return error.what();
    }
    return "(no error)";
}

}  // namespace ringmta::config::testing

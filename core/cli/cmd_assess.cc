// warden assess FILE... [--json | --sarif]
#include <warden/host.h>

#include <iomanip>
#include <iostream>

#include "assess/sarif.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "pipeline/explain.h"
#include "service/api.h"
#include "service/client.h"

namespace warden::cli {

void add_assess_command(CLI::App& app, Context& context) {
  static std::vector<std::string> files;
  static bool json = false, sarif = false, explain = false;
  auto* assess =
      app.add_subcommand("assess", "Find what is dangerous in programs and judge their risk");
  assess->add_option("FILE", files, "Python programs")->required();
  auto* json_flag = assess->add_flag("--json", json, "Print JSON");
  auto* sarif_flag = assess->add_flag("--sarif", sarif, "Print SARIF 2.1.0")->excludes(json_flag);
  assess
      ->add_flag("--explain", explain,
                 "Also show which policy rule decided the level, trust and limits")
      ->excludes(sarif_flag);
  set_handler(assess, [&context] {
    context.config();
    std::vector<std::pair<std::string, std::string>> sources;
    for (const auto& file : files) {
      sources.emplace_back(
          file, read_input_file(file, "program", context.config().requests.max_code_bytes));
    }
    Progress progress(!json && !sarif && context.verbosity >= 0, "starting warden's plugins");
    // Through the running service, else a host of this process, opened once.
    service::Client* service = context.service();
    std::unique_ptr<Host> host;
    auto assess_one = [&](const std::string& file, const std::string& code) {
      if (service) {
        if (auto answer = service->call(
                "POST", "/v1/assess", {{"code", code}, {"file_name", file}, {"explain", explain}}))
          return *answer;
        service = nullptr;  // it serves another configuration
      }
      if (!host) host = Host::open(context.config_path());
      ExecutionRequest request;
      request.code = code;
      request.file_name = file;
      return service::assess_explained(*host, request, explain);
    };
    nlohmann::json results = nlohmann::json::array();
    std::vector<nlohmann::json> assessments;
    bool dangerous = false;
    for (const auto& [file, code] : sources) {
      progress.step("assessing " + file);
      nlohmann::json r = assess_one(file, code);
      std::string level = r["level"];
      dangerous = dangerous || level == "HIGH" || level == "BLOCKED";
      assessments.push_back(r["assessment"]);
      nlohmann::json result = {{"file", file},
                               {"level", level},
                               {"score", r["score"]},
                               {"reasons", r["reasons"]},
                               {"findings", r["findings"]},
                               {"metrics", r["metrics"]},
                               {"imports", r["assessment"]["imports"]},
                               {"calls", r["assessment"]["calls"]},
                               {"assessors", r["assessors"]}};
      if (r.contains("explanation")) result["explanation"] = r["explanation"];
      results.push_back(std::move(result));
    }
    progress.clear();
    if (sarif) {
      print_json(to_sarif(assessments));
    } else if (json) {
      print_json({{"files", results}});
    } else {
      for (const auto& r : results) {
        std::cout << r["file"].get<std::string>() << ": " << r["level"].get<std::string>()
                  << " (score " << r["score"] << ")\n";
        for (const auto& f : r["findings"])
          std::cout << "  " << std::setw(4) << f["line"].get<int>() << "  " << std::left
                    << std::setw(9) << f["severity"].get<std::string>() << std::setw(11)
                    << f["assessor"].get<std::string>() << f["rule_id"].get<std::string>() << ": "
                    << f["message"].get<std::string>() << std::right << "\n";
        for (const auto& a : r["assessors"])
          std::cout << "  assessor " << a["name"].get<std::string>() << ": "
                    << a["status"].get<std::string>()
                    << (a["cached"].get<bool>() ? " (cached)" : "") << ", " << a["duration_ms"]
                    << " ms"
                    << (a["reason"].get<std::string>().empty()
                            ? ""
                            : " — " + a["reason"].get<std::string>())
                    << "\n";
        if (r.contains("explanation")) std::cout << pipeline::render_explanation(r["explanation"]);
      }
    }
    return dangerous ? 1 : 0;
  });
}

}  // namespace warden::cli

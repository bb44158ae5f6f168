// DocumentIndex on a real SQLite file and a real FAISS index (a hashing stand-in embedder keeps
// it fast; the last case uses all-MiniLM-L6-v2 when it is cached): FTS5 and FAISS stay equal to
// the chunk table through add/update/delete, crashes around the FAISS write leave a usable
// index (repaired from SQLite), malformed files do not stop a folder, and the search modes,
// filters and citations behave as specified.
#include "retrieval/document_index.h"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/retrieval/fake_embedder.h"
#include "tests/test_paths.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;

struct Sandbox {
  fs::path root;
  explicit Sandbox(const std::string& name) {
    root = fs::temp_directory_path() / ("r1_docindex_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "docs");
  }
  ~Sandbox() { fs::remove_all(root); }
  std::string docs() const { return (root / "docs").string(); }
  std::string index() const { return (root / "index").string(); }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories((root / "docs" / rel).parent_path());
    std::ofstream(root / "docs" / rel, std::ios::binary) << text;
  }
  void copy_data(const std::string& data_file, const std::string& rel) const {
    fs::copy_file(test::source_path("tests/data/retrieval/" + data_file), root / "docs" / rel,
                  fs::copy_options::overwrite_existing);
  }
};

std::unique_ptr<DocumentIndex> open_index(const Sandbox& s) {
  auto idx = DocumentIndex::open(s.index(), std::make_unique<test::HashEmbedder>());
  REQUIRE_MESSAGE(idx.is_ok(), idx.status().message());
  return std::move(*idx);
}

IngestReport ingest(DocumentIndex& idx, const std::string& path,
                    IndexKindChoice kind = IndexKindChoice::kKeep) {
  IngestOptions o;
  o.kind = kind;
  o.chunker = {32, 8};
  auto r = idx.ingest({path}, o);
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  return *r;
}

// SQLite chunks, FTS5 rows and FAISS ids agree (tombstones aside), checked by reopening.
void check_consistent(const Sandbox& s) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((s.index() + "/index.db").c_str(), &db) == SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
  };
  const int64_t chunks = scalar("SELECT count(*) FROM chunks");
  CHECK(scalar("SELECT count(*) FROM chunks_fts") == chunks);
  // The FTS index itself agrees with its content table.
  CHECK(sqlite3_exec(db, "INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)",
                     nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(scalar("SELECT count(*) FROM chunks WHERE vector IS NULL") == 0);
  CHECK(scalar("SELECT count(*) FROM chunks c LEFT JOIN files f ON f.id = c.file_id "
               "WHERE f.id IS NULL") == 0);
  const int64_t tombstones = scalar("SELECT count(*) FROM vector_tombstones");
  sqlite3_close(db);
  auto idx = open_index(s);
  CHECK_MESSAGE(!idx->health().repaired, idx->health().problem);
  auto st = idx->stats();
  REQUIRE(st.is_ok());
  CHECK(st->chunks == chunks);
  CHECK(st->vectors == chunks + tombstones);
}

std::set<std::string> paths_of(const std::vector<SearchHit>& hits) {
  std::set<std::string> out;
  for (const SearchHit& h : hits) out.insert(fs::path(h.path).filename().string());
  return out;
}

const char* kFox = "The quick brown fox jumps over the lazy dog near the riverbank.";
const char* kSql = "SQLite uses a write-ahead log to make commits atomic and durable.";

TEST_CASE("document index: add, update and delete keep SQLite, FTS5 and FAISS equal") {
  Sandbox s("consistency");
  s.write("fox.txt", kFox);
  s.write("sql.md", std::string("# WAL\n") + kSql);
  s.write("sub/long.txt", std::string(3000, 'a') + " tail words here");
  s.write("skip.bin", "not indexed");
  s.write(".hidden/secret.txt", "hidden");
  {
    auto idx = open_index(s);
    const IngestReport r = ingest(*idx, s.docs());
    CHECK(r.files_seen == 3);
    CHECK(r.files_new == 3);
    CHECK(r.errors.empty());
    CHECK(r.files_skipped == 2);
    CHECK(r.vector_index == "flat");
    CHECK(r.chunks_added > 3);
  }
  check_consistent(s);
  {  // unchanged: nothing is embedded again
    auto emb = std::make_unique<test::HashEmbedder>();
    test::HashEmbedder* e = emb.get();
    auto idx = DocumentIndex::open(s.index(), std::move(emb));
    REQUIRE(idx.is_ok());
    const IngestReport r = ingest(**idx, s.docs());
    CHECK(r.files_unchanged == 3);
    CHECK(r.chunks_added == 0);
    CHECK(e->texts_embedded == 0);
  }
  // Change one file, delete another.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  s.write("fox.txt", "Foxes are now replaced by badgers digging burrows.");
  fs::remove(s.root / "docs" / "sql.md");
  {
    auto idx = open_index(s);
    const IngestReport r = ingest(*idx, s.docs());
    CHECK(r.files_changed == 1);
    CHECK(r.files_removed == 1);
    CHECK(r.files_unchanged == 1);
    auto gone = idx->search("write-ahead log commits", {5, SearchMode::kKeyword});
    REQUIRE(gone.is_ok());
    CHECK(gone->empty());
    auto old = idx->search("quick lazy riverbank", {5, SearchMode::kKeyword});
    REQUIRE(old.is_ok());
    CHECK(old->empty());
    auto fresh = idx->search("badgers", {5, SearchMode::kHybrid});
    REQUIRE(fresh.is_ok());
    REQUIRE_FALSE(fresh->empty());
    CHECK(fs::path((*fresh)[0].path).filename() == "fox.txt");
  }
  check_consistent(s);
}

TEST_CASE("document index: HNSW deletes become tombstones that are never served") {
  Sandbox s("hnsw");
  for (int i = 0; i < 12; ++i)
    s.write("f" + std::to_string(i) + ".txt", "common words file " + std::to_string(i));
  s.write("target.txt", "zebra giraffe savanna");
  {
    auto idx = open_index(s);
    CHECK(ingest(*idx, s.docs(), IndexKindChoice::kHnsw).vector_index == "hnsw");
  }
  fs::remove(s.root / "docs" / "target.txt");
  {
    auto idx = open_index(s);
    const IngestReport r = ingest(*idx, s.docs());  // the choice is remembered
    CHECK(r.vector_index == "hnsw");
    CHECK(r.files_removed == 1);
    auto st = idx->stats();
    REQUIRE(st.is_ok());
    CHECK(st->tombstones == 1);
    auto hits = idx->search("zebra giraffe savanna", {20, SearchMode::kVector});
    REQUIRE(hits.is_ok());
    CHECK(paths_of(*hits).count("target.txt") == 0);
    CHECK(hits->size() == 12);
  }
  check_consistent(s);
  // Many deletions: the graph is rebuilt without tombstones.
  for (int i = 0; i < 6; ++i) fs::remove(s.root / "docs" / ("f" + std::to_string(i) + ".txt"));
  {
    auto idx = open_index(s);
    const IngestReport r = ingest(*idx, s.docs());
    CHECK(r.vectors_rebuilt);
    CHECK(idx->stats()->tombstones == 0);
  }
  check_consistent(s);
}

TEST_CASE("document index: a crash around the FAISS write leaves a usable, repaired index") {
  Sandbox s("crash");
  s.write("a.txt", kFox);
  s.write("b.txt", kSql);
  {
    auto idx = open_index(s);
    ingest(*idx, s.docs());
  }
  const fs::path faiss = fs::path(s.index()) / "vectors.faiss";
  const fs::path sidecar = fs::path(s.index()) / "vectors.faiss.json";

  SUBCASE("leftover temp file from an interrupted write") {
    std::ofstream(faiss.string() + ".tmp") << "half a faiss file";
    auto idx = open_index(s);
    CHECK(idx->health().problem.find("leftover vectors.faiss.tmp") != std::string::npos);
    CHECK_FALSE(fs::exists(faiss.string() + ".tmp"));
  }
  SUBCASE("truncated FAISS file") {
    fs::resize_file(faiss, fs::file_size(faiss) / 2);
    auto idx = open_index(s);
    CHECK(idx->health().repaired);
    CHECK(idx->health().problem.find("truncated") != std::string::npos);
  }
  SUBCASE("FAISS file missing") {
    fs::remove(faiss);
    auto idx = open_index(s);
    CHECK(idx->health().repaired);
  }
  SUBCASE("SQLite committed but the process died before FAISS was written") {
    // Keep the old FAISS file and sidecar, ingest a new file, then put the old pair back.
    fs::copy_file(faiss, s.root / "old.faiss");
    fs::copy_file(sidecar, s.root / "old.json");
    s.write("c.txt", "penguins huddle in antarctic winters");
    {
      auto idx = open_index(s);
      ingest(*idx, s.docs());
    }
    fs::copy_file(s.root / "old.faiss", faiss, fs::copy_options::overwrite_existing);
    fs::copy_file(s.root / "old.json", sidecar, fs::copy_options::overwrite_existing);
    auto idx = open_index(s);
    CHECK(idx->health().repaired);
    CHECK(idx->health().problem.find("generation") != std::string::npos);
    auto hits = idx->search("penguins antarctic", {1, SearchMode::kVector});
    REQUIRE(hits.is_ok());
    REQUIRE(hits->size() == 1);
    CHECK(fs::path((*hits)[0].path).filename() == "c.txt");
  }
  SUBCASE("vectors lost from SQLite rows are re-embedded") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((s.index() + "/index.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "UPDATE chunks SET vector = NULL", nullptr, nullptr, nullptr) ==
            SQLITE_OK);
    sqlite3_close(db);
    fs::remove(sidecar);
    auto idx = open_index(s);
    CHECK(idx->health().repaired);
  }
  check_consistent(s);
  auto idx = open_index(s);
  auto hits = idx->search("quick brown fox", {1, SearchMode::kVector});
  REQUIRE(hits.is_ok());
  REQUIRE(hits->size() == 1);
  CHECK(fs::path((*hits)[0].path).filename() == "a.txt");
}

TEST_CASE("document index: without an embedder an unrepairable index is reported, not served") {
  Sandbox s("report");
  s.write("a.txt", kFox);
  {
    auto idx = open_index(s);
    ingest(*idx, s.docs());
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((s.index() + "/index.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE chunks SET vector = NULL", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  sqlite3_close(db);
  fs::remove(fs::path(s.index()) / "vectors.faiss");
  auto idx = DocumentIndex::open(s.index(), nullptr);
  REQUIRE_FALSE(idx.is_ok());
  CHECK(idx.status().message().find("cannot be repaired") != std::string::npos);
  // Another embedding model is refused too.
  auto other = DocumentIndex::open(s.index(), std::make_unique<test::HashEmbedder>(32, "other"));
  REQUIRE_FALSE(other.is_ok());
  CHECK(other.status().message().find("built with embedding model hash/64") != std::string::npos);
}

TEST_CASE("document index: malformed files are reported and the rest of the folder is ingested") {
  Sandbox s("malformed");
  s.write("good.txt", kFox);
  s.copy_data("truncated.pdf", "broken.pdf");
  s.copy_data("two_pages.pdf", "cells.pdf");
  s.write("binary.html", std::string("<html>\0\0\0", 9));
  s.write("soup.html", "<p>unclosed <b>tags <i>about volcanoes<table><td>lava");
  auto idx = open_index(s);
  const IngestReport r = ingest(*idx, s.docs());
  CHECK(r.files_new == 3);
  REQUIRE(r.errors.size() == 2);
  std::set<std::string> failed;
  for (const FileError& e : r.errors) {
    failed.insert(fs::path(e.path).filename().string());
    CHECK(e.status.message().rfind(e.path, 0) == 0);  // the message names the file
  }
  CHECK(failed == std::set<std::string>{"broken.pdf", "binary.html"});
  auto pdf = idx->search("mitochondria powerhouse", {1, SearchMode::kKeyword});
  REQUIRE(pdf.is_ok());
  REQUIRE(pdf->size() == 1);
  CHECK((*pdf)[0].page == 2);
  CHECK((*pdf)[0].citation == (*pdf)[0].path + ":page 2");
  auto soup = idx->search("volcanoes lava", {1, SearchMode::kKeyword});
  REQUIRE(soup.is_ok());
  CHECK(paths_of(*soup) == std::set<std::string>{"soup.html"});
}

TEST_CASE("document index: search modes, path filter, citations, dedupe") {
  Sandbox s("search");
  s.write("animals/fox.txt", kFox);
  s.write("animals/copy-of-fox.txt", kFox);  // same bytes: indexed once (path order)
  s.write("db/sql.txt", kSql);
  s.write("db/other.txt", "Indexes speed up queries; the planner chooses an index per table.");
  auto idx = open_index(s);
  const IngestReport r = ingest(*idx, s.docs());
  CHECK(r.files_duplicate == 1);
  CHECK(r.files_new == 3);

  for (SearchMode mode : {SearchMode::kKeyword, SearchMode::kVector, SearchMode::kHybrid}) {
    CAPTURE(search_mode_name(mode));
    auto hits = idx->search("write-ahead log atomic commits", {2, mode});
    REQUIRE(hits.is_ok());
    REQUIRE_FALSE(hits->empty());
    const SearchHit& top = (*hits)[0];
    CHECK(fs::path(top.path).filename() == "sql.txt");
    CHECK(top.text == kSql);
    CHECK(top.byte_start == 0);
    CHECK(top.byte_end == static_cast<int64_t>(std::string(kSql).size()));
    CHECK(top.citation == top.path + ":bytes 0-" + std::to_string(top.byte_end));
    CHECK(hits->size() <= 2);
  }
  // Hybrid scores are RRF sums: the top hit, first in both lists, has 2 / (k + 1), with the
  // default k or the textbook k = 60 when asked.
  auto hybrid = idx->search("write-ahead log atomic commits", {1, SearchMode::kHybrid});
  REQUIRE(hybrid.is_ok());
  CHECK((*hybrid)[0].score == doctest::Approx(2.0 / (kHybridRrfK + 1)));
  SearchOptions textbook{1, SearchMode::kHybrid};
  textbook.rrf_k = kRrfK;
  hybrid = idx->search("write-ahead log atomic commits", textbook);
  REQUIRE(hybrid.is_ok());
  CHECK((*hybrid)[0].score == doctest::Approx(2.0 / 61));
  SearchOptions negative{1, SearchMode::kHybrid};
  negative.rrf_k = -1;
  CHECK(idx->search("x", negative).status().code() == StatusCode::kInvalidArgument);

  SearchOptions only_animals{5, SearchMode::kHybrid};
  only_animals.path_prefix = (s.root / "docs" / "animals").string();
  auto filtered = idx->search("write-ahead log fox", only_animals);
  REQUIRE(filtered.is_ok());
  // Files are ingested in path order: copy-of-fox.txt is the original, fox.txt its duplicate.
  CHECK(paths_of(*filtered) == std::set<std::string>{"copy-of-fox.txt"});

  auto empty = idx->search("?? !!", {5, SearchMode::kKeyword});
  REQUIRE(empty.is_ok());
  CHECK(empty->empty());
  CHECK(idx->search("x", {0, SearchMode::kKeyword}).status().code() ==
        StatusCode::kInvalidArgument);
  auto injection = idx->search("fox\" OR text:* NEAR(", {5, SearchMode::kKeyword});
  REQUIRE_MESSAGE(injection.is_ok(), injection.status().message());

  // Removing the original promotes the duplicate.
  fs::remove(s.root / "docs" / "animals" / "copy-of-fox.txt");
  const IngestReport again = ingest(*idx, s.docs());
  CHECK(again.files_removed == 1);
  CHECK(again.files_new == 1);
  auto fox = idx->search("quick brown fox", {5, SearchMode::kKeyword});
  REQUIRE(fox.is_ok());
  CHECK(paths_of(*fox) == std::set<std::string>{"fox.txt"});
  check_consistent(s);
}

TEST_CASE("document index: hybrid is the RRF of the keyword and vector rankings, candidates deep") {
  Sandbox s("fusion");
  const char* kTopics[] = {"readers", "writers", "journal", "checkpoint", "vacuum", "index"};
  for (int i = 0; i < 24; ++i) {
    // Overlapping vocabularies, so the two rankings agree on some chunks and not on others.
    std::string text;
    for (int w = 0; w < 6; ++w) text += std::string(kTopics[(i + w * (i % 4 + 1)) % 6]) + " ";
    s.write("d" + std::to_string(i) + ".txt", text + "note " + std::to_string(i) + ".");
  }
  auto idx = open_index(s);
  ingest(*idx, s.docs());
  const std::string query = "readers and writers of the journal";
  for (double rrf_k : {kHybridRrfK, kRrfK}) {
    for (int32_t candidates : {0, 3}) {
      CAPTURE(rrf_k);
      CAPTURE(candidates);
      const int32_t depth = candidates > 0 ? candidates : std::max(kHybridCandidates, 5);
      auto kw = idx->search(query, {depth, SearchMode::kKeyword});
      auto vec = idx->search(query, {depth, SearchMode::kVector});
      REQUIRE(kw.is_ok());
      REQUIRE(vec.is_ok());
      std::vector<std::vector<int64_t>> lists(2);
      for (const SearchHit& h : *vec) lists[0].push_back(h.chunk_id);
      for (const SearchHit& h : *kw) lists[1].push_back(h.chunk_id);
      const std::vector<FusedItem> want = reciprocal_rank_fusion(lists, rrf_k);
      SearchOptions o{5, SearchMode::kHybrid};
      o.rrf_k = rrf_k;
      o.candidates = candidates;
      auto got = idx->search(query, o);
      REQUIRE(got.is_ok());
      REQUIRE(got->size() == std::min<size_t>(5, want.size()));
      for (size_t i = 0; i < got->size(); ++i) {
        CAPTURE(i);
        CHECK((*got)[i].chunk_id == want[i].id);
        CHECK((*got)[i].score == doctest::Approx(want[i].score).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("document index: names, folders and bad paths") {
  CHECK(index_dir_for_name("papers").is_ok());
  CHECK_FALSE(index_dir_for_name("../etc").is_ok());
  CHECK_FALSE(index_dir_for_name(".hidden").is_ok());
  CHECK_FALSE(index_dir_for_name("").is_ok());
  Sandbox s("paths");
  auto idx = open_index(s);
  auto r = idx->ingest({(s.root / "nope").string()}, {});
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == StatusCode::kNotFound);
}

TEST_CASE("document index: with all-MiniLM-L6-v2, vector search finds paraphrases") {
  const std::string model = test::model_path("all-MiniLM-L6-v2.F32.gguf");
  if (!fs::exists(model)) {
    MESSAGE("skipped: " << model << " is missing (run `r1 models fetch all-minilm-l6-v2`)");
    return;
  }
  Sandbox s("minilm");
  s.write("cooking.txt", "Simmer the tomato sauce for twenty minutes, then add fresh basil.");
  s.write("space.txt", "The rocket reached orbit and deployed three communication satellites.");
  s.write("finance.txt", "Interest rates rose, so mortgage payments increased for homeowners.");
  auto emb = open_native_text_embedder(model, 2);
  REQUIRE(emb.is_ok());
  auto idx = DocumentIndex::open(s.index(), std::move(*emb));
  REQUIRE_MESSAGE(idx.is_ok(), idx.status().message());
  auto r = (*idx)->ingest({s.docs()}, {});
  REQUIRE(r.is_ok());
  struct Case {
    const char* query;
    const char* file;
  };
  for (const Case& c : {Case{"launching spacecraft into space", "space.txt"},
                        Case{"how to prepare a pasta dinner", "cooking.txt"},
                        Case{"borrowing costs for buying a house", "finance.txt"}}) {
    auto hits = (*idx)->search(c.query, {1, SearchMode::kVector});
    REQUIRE(hits.is_ok());
    REQUIRE(hits->size() == 1);
    CHECK_MESSAGE(fs::path((*hits)[0].path).filename() == c.file, c.query);
    CHECK((*hits)[0].score > 0.2);
  }
}

}  // namespace
}  // namespace r1

# frozen_string_literal: true

# ruby scripts/vagrant/preflight_test.rb  (run by go test ./kit/vagrant)
require "minitest/autorun"
require_relative "preflight"

class PreflightTest < Minitest::Test
  LAB = [
    { "name" => "drover-server", "ip" => "192.168.56.101" },
    { "name" => "drover-client01", "ip" => "192.168.56.102" }
  ].freeze
  TUTORIAL = [
    { "name" => "nomad-server", "ip" => "172.17.8.101" },
    { "name" => "nomad-client01", "ip" => "172.17.8.102" }
  ].freeze
  OTHER = [{ "name" => "drover-server", "ip" => "10.20.0.11" }].freeze

  def test_versions
    assert_equal [6, 1, 38], DroverPreflight.vbox_version("6.1.38r153438\n")
    assert_equal [7, 0, 12], DroverPreflight.vbox_version("7.0.12_Ubuntur159484")
    assert_equal [6, 1, 26], DroverPreflight.vbox_version("WARNING: foo\n6.1.26r145957")
    assert_nil DroverPreflight.vbox_version("")
    assert DroverPreflight.vbox_restricts_ranges?([6, 1, 28])
    assert DroverPreflight.vbox_restricts_ranges?([7, 0, 0])
    refute DroverPreflight.vbox_restricts_ranges?([6, 1, 26])
    refute DroverPreflight.vbox_restricts_ranges?(nil)
  end

  def test_networks_conf
    assert_nil DroverPreflight.allowed_ranges(nil)
    got = DroverPreflight.allowed_ranges("# comment\n* 10.0.0.0/8 192.168.0.0/16\n* 2001::/64\n  junk\n")
    assert_equal ["10.0.0.0", "192.168.0.0", "2001::"], got.map(&:to_s)
    assert_equal [], DroverPreflight.allowed_ranges("")
  end

  def test_lab_range_passes_on_new_virtualbox
    assert_empty DroverPreflight.problems(LAB, provider: "virtualbox", vbox_version_output: "7.0.12r159484")
  end

  def test_other_range_refused_without_networks_conf
    out = DroverPreflight.problems(OTHER, provider: "virtualbox", vbox_version_output: "6.1.28r147628")
    assert_equal 1, out.size
    assert_includes out[0], "VirtualBox 6.1.28 allows host-only networks only in 192.168.56.0/21"
    assert_includes out[0], "there is no /etc/vbox/networks.conf"
    assert_includes out[0], "drover-server (10.20.0.11)"
    assert_includes out[0], "Fix: sudo mkdir -p /etc/vbox && echo '* 10.20.0.0/24' | sudo tee -a /etc/vbox/networks.conf"
  end

  def test_networks_conf_that_allows_passes
    assert_empty DroverPreflight.problems(OTHER, provider: "virtualbox", vbox_version_output: "7.0.4r154605",
                                                 networks_conf: "* 10.0.0.0/8\n")
    out = DroverPreflight.problems(LAB, provider: "virtualbox", vbox_version_output: "7.0.4r154605",
                                        networks_conf: "* 10.0.0.0/8\n")
    assert_includes out[0], "(/etc/vbox/networks.conf)"
    assert_includes out[0], "echo '* 192.168.56.0/24'"
  end

  def test_old_virtualbox_has_no_restriction
    assert_empty DroverPreflight.problems(OTHER, provider: "virtualbox", vbox_version_output: "6.1.26r145957")
  end

  def test_docker_bridge_collision_on_every_provider
    %w[virtualbox libvirt docker].each do |provider|
      out = DroverPreflight.problems(TUTORIAL, provider: provider, vbox_version_output: "6.1.26r1")
      assert_equal 2, out.size, provider
      assert_includes out[0], "nomad-server: 172.17.8.101 is inside 172.17.0.0/16, Docker's default bridge"
      assert_includes out[0], "Fix: give the machines addresses on another network in cluster.yaml"
    end
  end

  def test_non_virtualbox_ignores_vbox
    assert_empty DroverPreflight.problems(OTHER, provider: "libvirt", vbox_version_output: "7.0.0r1")
  end
end
